"""bot.oms: order state machine, idempotent submission, contingent orders, positions."""

from bot.oms.idempotency import IdempotencyCache
from bot.oms.manager import Amend, Bracket, Cancel, OcoGroup, OrderManager, OtoGroup, Submit
from bot.oms.portfolio import Portfolio, PortfolioError, Position
from bot.oms.state import InvalidTransition, Order, OrderError, OrderState

__all__ = [
    "Amend", "Bracket", "Cancel", "IdempotencyCache", "InvalidTransition", "OcoGroup", "Order",
    "OrderError", "OrderManager", "OrderState", "OtoGroup", "Portfolio", "PortfolioError",
    "Position", "Submit",
]
