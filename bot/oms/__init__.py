"""bot.oms"""
