"""bot.oms: the order manager (orders by client id over bot.model.Order, idempotent
submission, contingent orders) and the portfolio (positions, PnL, fees)."""

from bot.oms.idempotency import IdempotencyCache
from bot.oms.manager import Amend, Bracket, Cancel, OcoGroup, OrderManager, OtoGroup, Submit
from bot.oms.portfolio import Portfolio, PortfolioError

__all__ = [
    "Amend", "Bracket", "Cancel", "IdempotencyCache", "OcoGroup", "OrderManager", "OtoGroup",
    "Portfolio", "PortfolioError", "Submit",
]
