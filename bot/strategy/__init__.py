"""bot.strategy: the strategy API (Strategy, Context, MarketView), the driver that runs a
strategy over a venue, and the built-in strategies (by name in BUILTIN)."""

from bot.strategy.api import Bar, Context, MarketView, Strategy, StrategyError
from bot.strategy.microprice_mm import MicropriceMM

BUILTIN = {"market_maker": MicropriceMM}

__all__ = ["BUILTIN", "Bar", "Context", "MarketView", "MicropriceMM", "Strategy", "StrategyError"]
