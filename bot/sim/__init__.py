"""bot.sim"""
