"""bot.venues"""
