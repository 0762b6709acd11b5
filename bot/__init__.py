"""Bot4 Python shell: CLI, data, simulator, OMS, strategy, ML, risk, venues, store, perf."""

__version__ = "0.1.0"
