"""One typed configuration schema: TOML files in config/, environment overrides BOT4_<SECTION>_<KEY>.

The embedded default (the dataclass defaults, mirrored by config/default.toml) works with
no edits. Unknown sections or keys, and values of the wrong type, are errors that name the
key, so a typo never silently falls back to a default. Secrets never live here: fields
that hold one name an environment variable or a file outside the repository.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """Bad configuration: unknown key, wrong type, or out-of-range value."""


@dataclass(frozen=True)
class DataConfig:
    # Where recorded market data lives; relative paths are taken from the project root.
    shared_dir: str = "../shared/data"
    cache_dir: str = "~/.cache/bot4"


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    events: int = 200_000
    regime: str = "sideways"
    # simulated venue (bot4 sim): queue model for cancels ahead of our orders
    # (risk_averse | power | log), latencies in microseconds, strategy step in milliseconds
    queue_model: str = "risk_averse"
    entry_latency_us: int = 1000
    ack_latency_us: int = 1000
    md_latency_us: int = 0
    interval_ms: int = 250


@dataclass(frozen=True)
class StoreConfig:
    dsn: str = "sqlite:///./bot4.db"
    # Name of the environment variable, or path of a file outside the repo, with the DB password.
    password_env: str = "BOT4_DB_PASSWORD"
    password_file: str = ""
    durability: str = "batch"  # "batch": fsync per batch; "event": fsync per event
    batch_size: int = 2048  # most journal records per transaction (group commit)
    max_in_flight: int = 65536


@dataclass(frozen=True)
class MlConfig:
    # Model registry (bot.ml.registry): content-addressed blobs under registry_dir; records
    # and audit log in registry_dsn ("" = sqlite:///<registry_dir>/registry.db).
    registry_dir: str = "./models"
    registry_dsn: str = ""
    canary_fraction: float = 0.05  # share of decisions/capital routed to a canary model
    # SLO monitor: roll back when, over the last slo_window decisions, p99.9 inference
    # latency exceeds slo_p999_us, the error rate exceeds slo_error_rate, or the drawdown
    # of cumulative PnL (fraction of allocated capital) exceeds slo_drawdown.
    slo_p999_us: float = 2000.0
    slo_error_rate: float = 0.01
    slo_drawdown: float = 0.05
    slo_window: int = 1000


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ml: MlConfig = field(default_factory=MlConfig)


def _coerce(value, typ, where: str):
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where} must be a boolean, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported config type {typ!r}")


def _build_section(cls, values: dict, section: str):
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    kwargs = {k: _coerce(v, hints[k], f"{section}.{k}") for k, v in values.items()}
    return cls(**kwargs)


def load(path: str | os.PathLike | None = None, env: typing.Mapping[str, str] | None = None) -> Config:
    """Defaults, then the TOML file at `path` (if given), then BOT4_<SECTION>_<KEY> variables."""
    env = os.environ if env is None else env
    raw: dict[str, dict] = {}
    if path is not None:
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"config file {p} is not valid TOML: {e}") from None
    sections = {f.name: f.type for f in dataclasses.fields(Config)}
    section_types = typing.get_type_hints(Config)
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(sections))}")
    merged: dict[str, dict] = {name: dict(raw.get(name, {})) for name in sections}
    for name, values in merged.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[{name}] must be a table")
        for f in dataclasses.fields(section_types[name]):
            key = f"BOT4_{name.upper()}_{f.name.upper()}"
            if key in env:
                values[f.name] = env[key]
    return Config(**{name: _build_section(section_types[name], merged[name], name) for name in sections})


def as_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)
