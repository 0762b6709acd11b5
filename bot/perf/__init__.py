"""bot.perf"""
