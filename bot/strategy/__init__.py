"""bot.strategy: built-in strategies."""

from bot.strategy.microprice_mm import MicropriceMM

__all__ = ["MicropriceMM"]
