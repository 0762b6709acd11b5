"""bot.ml"""
