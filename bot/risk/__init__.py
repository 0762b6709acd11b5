"""bot.risk"""
