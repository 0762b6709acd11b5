"""bot.strategy"""
