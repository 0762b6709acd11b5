"""bot.sim: the simulated venue (queue position, latency, fees, impact, filters) over the C
core in engine.simvenue, and the driver that runs a strategy through it with the OMS."""

from bot.sim.venue import (
    FeeSchedule, FeeTier, Impact, Latency, Report, SimVenue, VenueConfig, VenueConfigError,
)

__all__ = ["FeeSchedule", "FeeTier", "Impact", "Latency", "Report", "SimVenue", "VenueConfig",
           "VenueConfigError"]
