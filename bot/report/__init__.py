"""bot.report"""
