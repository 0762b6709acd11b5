"""`bot4 backtest` (any strategy, built-in or the user's own file) and `bot4 sim` (the short
demo of the built-in market maker): both run a strategy through the one driver
(bot.strategy.driver) over the simulated venue (bot.venues.sim), on a seeded synthetic
market by default or on recorded data.

Without --store nothing touches a database. With `--store DSN` every order event and fill
is journaled to that store (one run per session) and the strategy is told of each only
once it is durable; at the end the run is recovered from the store, compared with the
OMS, and checked (`bot4 store check`). The run's id is printed (stderr) before it starts.
`--resume RUN_ID` replays a journaled run with the configuration stored with it (options
not given take the stored values; a given option that contradicts one is an error) and
checks the recovered state against the OMS where the store left off.
"""

from __future__ import annotations

import functools
import importlib.util
import inspect
import json
from pathlib import Path

import click

_PARAM_TRUE, _PARAM_FALSE = ("true", "yes", "on"), ("false", "no", "off")


def _parse_value(text: str):
    """--param values: int, then float, then true/false, else the text itself."""
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            continue
    if text.lower() in _PARAM_TRUE:
        return True
    if text.lower() in _PARAM_FALSE:
        return False
    return text


def parse_params(items) -> dict:
    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{item!r} is not k=v", param_hint="--param")
        out[key.strip()] = _parse_value(value.strip())
    return out


def load_strategy_class(spec: str):
    """A built-in strategy by name, or `path/file.py:Class` (a Strategy subclass)."""
    from bot.strategy import BUILTIN, Strategy

    if spec in BUILTIN:
        return BUILTIN[spec]
    path, colon, name = spec.rpartition(":")
    if not colon or not path.endswith(".py"):
        raise click.BadParameter(f"{spec!r} is neither a built-in strategy ({', '.join(sorted(BUILTIN))}) "
                                 "nor path/file.py:Class", param_hint="--strategy")
    file = Path(path)
    if not file.is_file():
        raise click.BadParameter(f"{path}: no such file", param_hint="--strategy")
    mod_spec = importlib.util.spec_from_file_location(f"bot4_user_strategy_{file.stem}", file)
    module = importlib.util.module_from_spec(mod_spec)
    try:
        mod_spec.loader.exec_module(module)
    except Exception as e:
        raise click.ClickException(f"{path}: cannot be imported: {type(e).__name__}: {e}") from None
    cls = getattr(module, name, None)
    if cls is None:
        raise click.BadParameter(f"{path} has no class {name!r}", param_hint="--strategy")
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise click.BadParameter(f"{path}:{name} is not a subclass of bot.strategy.Strategy",
                                 param_hint="--strategy")
    return cls


def make_strategy(cls, params: dict):
    """cls(**params), refusing parameters its __init__ does not take (naming them)."""
    from bot.strategy import StrategyError

    sig = inspect.signature(cls.__init__)
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    accepted = [n for n, p in sig.parameters.items()
                if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = [k for k in params if k not in accepted]
    if unknown and not takes_kwargs:
        raise click.BadParameter(f"{cls.__name__} takes no parameter {', '.join(map(repr, unknown))} "
                                 f"(it takes: {', '.join(accepted) or 'none'})", param_hint="--param")
    try:
        return cls(**params)
    except (StrategyError, TypeError, ValueError) as e:
        raise click.BadParameter(f"{cls.__name__}: {e}", param_hint="--param") from None


def market_options(fn):
    """The options every command that runs a strategy on a market shares."""
    opts = [
        click.option("--data", "paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Recorded data (Binance recording, Tardis CSV or Bot4 Parquet events); "
                          "repeat for several files. Default: a synthetic market (engine.synth)."),
        click.option("--events", "n_events", type=click.IntRange(min=50), default=None,
                     help="Synthetic events to generate (default: [sim] events)."),
        click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed for data and latency."),
        click.option("--regime", type=click.Choice(["bull", "bear", "sideways", "crisis"]), default=None),
        click.option("--interval", "interval", default=None, metavar="DURATION",
                     help="Decision step in feed time, e.g. 100ms, 1ms (default: [sim] interval_ms)."),
        click.option("--queue-model", type=click.Choice(["risk_averse", "power", "log"]), default=None),
        click.option("--latency-sigma", type=click.FloatRange(min=0), default=0.0, show_default=True,
                     help="Lognormal sigma of entry/ack latency (0: constant)."),
        click.option("--show-fills", type=click.IntRange(min=0), default=10, show_default=True),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
        click.option("--store", "store_dsn", default=None, metavar="DSN",
                     help="Journal every order event and fill to this store (sqlite:///path or "
                          "postgresql://...; password from [store] password_env/password_file). "
                          "Fees finer than the store's 1e-9 quote unit are rounded up to it. "
                          "Default: no store (fast, no database)."),
        click.option("--durability", type=click.Choice(["batch", "event"]), default=None,
                     help="With --store: one commit (fsync) per batch or per event (default: [store] durability)."),
        click.option("--strategy-view", type=click.Choice(["wait", "lag"]), default="wait", show_default=True,
                     help="With --store: 'wait' holds each strategy step (wall clock only) until what it is "
                          "told is durable, so runs are reproducible; 'lag' never waits and tells the "
                          "strategy what is durable so far, as live trading would (not reproducible)."),
        click.option("--run-id", default=None,
                     help="With --store: the id of a new run (default: <command>-<seed>-<random>)."),
        click.option("--resume", "resume_run", default=None, metavar="RUN_ID",
                     help="With --store: replay run RUN_ID with the options stored with it (an option "
                          "given must agree with the stored one), check the recovered orders, fills, "
                          "positions and balances against the OMS where the store left off, and journal "
                          "the rest."),
        click.argument("more_paths", nargs=-1, type=click.Path(exists=True, dir_okay=False)),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    from bot.data.commands import spec_options

    return spec_options(fn)


def _load_market(paths, n_events, seed, regime, cfg, spec=None):
    if paths:
        from bot.data.commands import load_input

        fmt, ev, inst, how = load_input(list(paths), **(spec or {}))
        if fmt not in ("events", "tardis", "binance"):
            raise click.ClickException(f"{paths[0]}: {fmt} data has no order book to trade on")
        return ev, inst, f"{', '.join(paths)} (spec: {how.describe()})"
    from bot.data.synthetic import synthetic_market

    n = cfg.events if n_events is None else n_events
    reg = cfg.regime if regime is None else regime
    ev, inst = synthetic_market(n, seed=seed, regime=reg)
    return ev, inst, f"synthetic ({reg}, seed {seed}, {n} events)"


def run_command(name, make, paths, n_events, seed, regime, interval, queue_model, latency_sigma,
                show_fills, as_json, store_dsn, durability, strategy_view, run_id, resume_run,
                more_paths, config_extra: dict, tick_size=None, lot_size=None, contract_size=None,
                instruments_file=None):
    """Load the market, build the strategy (make(instrument)), run it, print the result."""
    from bot.data.commands import spec_kwargs

    spec = spec_kwargs(tick_size, lot_size, contract_size, instruments_file)
    if more_paths and not paths:
        raise click.UsageError(f"data files go after --data (bot4 {name} --data FILE...)")
    paths = tuple(paths) + tuple(more_paths)
    if spec["overrides"] and not paths:
        raise click.UsageError("--tick-size, --lot-size and --contract-size apply to recorded data (--data FILE)")
    if store_dsn is None:
        for opt, given in (("--durability", durability is not None), ("--run-id", run_id is not None),
                           ("--resume", resume_run is not None), ("--strategy-view", strategy_view != "wait")):
            if given:
                raise click.UsageError(f"{opt} needs --store DSN")
    if run_id is not None and resume_run is not None:
        raise click.UsageError("give either --run-id (a new run) or --resume RUN_ID, not both")
    if resume_run is not None and strategy_view != "wait":
        raise click.UsageError("--resume replays the session, which is reproducible only with --strategy-view wait")
    from bot import config as config_mod
    from bot.features.compute import parse_interval
    from bot.venues.sim import Latency, VenueConfig

    full_cfg = config_mod.load()
    cfg = full_cfg.sim
    seed = cfg.seed if seed is None else seed
    if interval is None:
        interval_ns = cfg.interval_ms * 1_000_000
    else:
        try:
            interval_ns = parse_interval(interval)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--interval") from None
    store = None
    if store_dsn is not None:
        import uuid

        run_id = resume_run or run_id or f"{name}-{seed}-{uuid.uuid4().hex[:8]}"
        store = _open_store(full_cfg.store, store_dsn)
        click.echo(f"run {run_id} (store {store_dsn}{'; resuming' if resume_run else ''})", err=True)
    session = None
    try:
        ev, inst, source = _load_market(paths, n_events, seed, regime, cfg, spec)
        venue_cfg = VenueConfig(
            entry_latency=Latency(cfg.entry_latency_us * 1000, latency_sigma),
            ack_latency=Latency(cfg.ack_latency_us * 1000, latency_sigma),
            md_latency=Latency(cfg.md_latency_us * 1000),
            queue_model=queue_model or cfg.queue_model, seed=seed)
        strategy = make(inst)
        if store is not None:
            session = _session(store, full_cfg.store, name, run_id, durability, strategy_view, resume_run, {
                "source": source, "data": list(paths), "seed": seed,
                "events": None if paths else (cfg.events if n_events is None else n_events),
                "regime": None if paths else (cfg.regime if regime is None else regime),
                "tick_size": tick_size, "lot_size": lot_size, "contract_size": contract_size,
                "instruments_file": instruments_file,
                "queue_model": venue_cfg.queue_model, "latency_sigma": latency_sigma,
                "entry_latency_us": cfg.entry_latency_us,
                "ack_latency_us": cfg.ack_latency_us, "md_latency_us": cfg.md_latency_us,
                "interval_ns": interval_ns, **config_extra})
        from bot.store.errors import StoreError
        from bot.store.session import SessionJournalError
        from bot.strategy.driver import Driver
        from bot.venues.sim import SimVenue

        try:
            res = Driver(SimVenue(ev, inst, venue_cfg), strategy, interval_ns=interval_ns, session=session).run()
        except (SessionJournalError, StoreError) as e:
            raise click.ClickException(str(e)) from None
    finally:
        if store is not None:
            store.close()
    print_result(name, res, source, show_fills, as_json)


def print_result(name, res, source, show_fills, as_json):
    summary = res.summary()
    summary["source"] = source
    inst = res.instrument
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        _store_verdict(res.store)
        return
    label = "microprice market maker" if res.strategy == "MicropriceMM" else res.strategy
    click.echo(f"bot4 {name}: {label} on {source}")
    click.echo(f"  {summary['instrument']}: {res.events:,} events replayed in {res.seconds:.2f} s "
               f"({res.steps:,} decision steps); {res.orders_sent} orders sent, rejects "
               f"{summary['rejects'] or 'none'}")
    for f in res.fills[:show_fills]:
        queue = f" (joined behind {f.ahead} lots)" if f.liquidity == "maker" else ""
        click.echo(f"  fill {f.client_id:>8} {f.side:4} {inst.lots_to_qty(f.qty)} @ "
                   f"{inst.ticks_to_price(f.price)} {f.liquidity:5} fee {f.fee.normalize()}{queue}")
    if len(res.fills) > show_fills:
        click.echo(f"  ... {len(res.fills) - show_fills} more fills")
    click.echo(f"  fills {summary['fills']} (maker {summary['maker_fills']}, taker "
               f"{summary['taker_fills']}), volume {summary['volume_quote']}")
    click.echo(f"  position {summary['position']}, realized PnL {summary['realized_pnl_quote']}, "
               f"unrealized {summary['unrealized_pnl_quote']}, fees {summary['fees_quote']}, "
               f"net {summary['net_pnl_quote']}")
    q = summary["queue"]
    click.echo(f"  queue: {q['orders_rested']} orders rested, mean ahead at placement "
               f"{q['mean_ahead_at_place_lots']:.1f} lots, maker fill ratio "
               f"{q['maker_fill_ratio']:.3f}, median time to first fill "
               f"{q['median_time_to_first_fill_ms']} ms; queue advanced by trades "
               f"{q['core_queue_advance_trades']} lots, by cancels {q['core_queue_advance_cancels']} lots")
    if res.store is not None:
        st = res.store
        resumed = (f", resumed after event {st['resumed_from_event']}"
                   if st["resumed_from_event"] is not None else "")
        click.echo(f"  store: run {st['run_id']}{resumed}: {st['records']} records ({st['fills']} fills) "
                   f"in {st['batches']} batches, durability {st['durability']}, strategy view "
                   f"{st['view']}; journal append p50 {st['append_p50_us']} us, p99 "
                   f"{st['append_p99_us']} us; strategy waited {st['strategy_wait_s']} s in "
                   f"{st['strategy_waits']} steps")
        click.echo(f"  store: recovered state equals the OMS: {'yes' if st['recovered_equals_oms'] else 'NO'}; "
                   f"check: {'ok' if st['check_ok'] else str(len(st['check_violations'])) + ' violation(s)'}")
        for m in st["mismatches"] + st["check_violations"]:
            click.echo(f"    {m}")
        _store_verdict(st)


def _open_store(store_cfg, dsn, *, create=True):
    from bot.store import StoreError, open_store

    try:
        return open_store(dsn, password_env=store_cfg.password_env, password_file=store_cfg.password_file,
                          create=create)
    except StoreError as e:
        raise click.ClickException(str(e)) from None


def _session(st, store_cfg, mode, run_id, durability, view, resume_run, config):
    from bot.store.session import SessionJournalError, SessionStore

    try:
        return SessionStore(st, run_id, mode=mode, durability=durability or store_cfg.durability, view=view,
                            resume=resume_run is not None, config=config,
                            batch_size=store_cfg.batch_size, max_in_flight=store_cfg.max_in_flight)
    except SessionJournalError as e:
        raise click.ClickException(str(e)) from None


def _store_verdict(st):
    """Exit 1 when the store disagrees with the OMS or fails its checks."""
    if st is not None and not (st["recovered_equals_oms"] and st["check_ok"]):
        raise click.ClickException(f"store run {st['run_id']}: recovered state differs from the OMS or "
                                   "the store's invariant checks failed (listed above)")


def _format_ns(ns: int) -> str:
    for unit, scale in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns % scale == 0:
            return f"{ns // scale}{unit}"
    return f"{ns}ns"


def _same_decimal(a, b) -> bool:
    from decimal import Decimal, InvalidOperation

    if a is None or b is None:
        return a is b
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return str(a) == str(b)


def _interval_ns(text):
    from bot.features.compute import parse_interval

    try:
        return parse_interval(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--interval") from None


# option (the command's parameter name) -> (stored config key, flag, given value as stored,
# stored value as the option's value, how a value is shown)
_RESUMED = {
    "n_events": ("events", "--events", None, None, None),
    "seed": ("seed", "--seed", None, None, None),
    "regime": ("regime", "--regime", None, None, None),
    "interval": ("interval_ns", "--interval", _interval_ns, lambda ns: f"{ns}ns", _format_ns),
    "queue_model": ("queue_model", "--queue-model", None, None, None),
    "latency_sigma": ("latency_sigma", "--latency-sigma", None, None, None),
    "tick_size": ("tick_size", "--tick-size", None, None, None),
    "lot_size": ("lot_size", "--lot-size", None, None, None),
    "contract_size": ("contract_size", "--contract-size", None, None, None),
    "instruments_file": ("instruments_file", "--instruments", None, None, None),
    "strategy_spec": ("strategy", "--strategy", None, None, None),
    "qty": ("qty", "--qty", None, None, None),
    "half_spread_ticks": ("half_spread_ticks", "--half-spread-ticks", None, None, None),
}
_DECIMAL_OPTIONS = frozenset({"tick_size", "lot_size", "contract_size", "qty"})


def _show(v, fmt=None) -> str:
    if v is None:
        return "(none)"
    return fmt(v) if fmt is not None else str(v)


def _contradicts(flag, given, key, stored, fmt=None):
    return click.UsageError(f"{flag} {_show(given, fmt)} contradicts the run's stored {key} {_show(stored, fmt)}")


def resume_values(name: str, values: dict) -> dict:
    """With --store and --resume RUN_ID: the command's values with every option not given on
    the command line taken from the configuration stored with the run; an option given that
    differs from the stored value is a usage error naming both. `values` holds the command's
    parameters by name (backtest's `params` already parsed into a dict)."""
    from click.core import ParameterSource

    resume_run, dsn = values.get("resume_run"), values.get("store_dsn")
    if resume_run is None or dsn is None:
        return values
    from bot import config as config_mod
    from bot.store.errors import StoreError
    from bot.store.recovery import require_run
    from bot.store.runs import stored_config

    st = _open_store(config_mod.load().store, dsn, create=False)
    try:
        run = require_run(st, resume_run)
    except StoreError as e:
        raise click.ClickException(f"cannot resume: {e}") from None
    finally:
        st.close()
    stored = stored_config(run)
    started_by = "backtest" if "strategy" in stored else "sim" if "half_spread_ticks" in stored else run.mode
    if started_by != name and started_by in ("sim", "backtest"):
        raise click.UsageError(f"run {resume_run} was started by `bot4 {started_by}`; "
                               f"resume it with `bot4 {started_by} --resume {resume_run}`")
    ctx = click.get_current_context()

    def given(param):
        return ctx.get_parameter_source(param) in (ParameterSource.COMMANDLINE, ParameterSource.PROMPT)

    out = dict(values)
    for param, (key, flag, as_stored, as_option, fmt) in _RESUMED.items():
        if param not in values or key not in stored:
            continue
        if given(param):
            have = as_stored(values[param]) if as_stored is not None else values[param]
            same = _same_decimal(have, stored[key]) if param in _DECIMAL_OPTIONS else have == stored[key]
            if not same:
                raise _contradicts(flag, values[param] if fmt is None else have, flag[2:], stored[key], fmt)
        else:
            out[param] = as_option(stored[key]) if as_option is not None and stored[key] is not None \
                else stored[key]
    if "params" in values and "params" in stored:
        kept = stored["params"] or {}
        for k, v in values["params"].items():
            if k not in kept or kept[k] != v:
                raise click.UsageError(f"--param {k}={v} contradicts the run's stored params "
                                       f"{json.dumps(kept, sort_keys=True)}")
        out["params"] = dict(kept)
    if "data" in stored:
        want = list(stored["data"] or [])
        if given("paths") or given("more_paths"):
            have = list(values["paths"]) + list(values["more_paths"])
            if [Path(x).resolve() for x in have] != [Path(x).resolve() for x in want]:
                raise click.UsageError(f"--data {' '.join(have)} contradicts the run's stored data "
                                       f"{' '.join(want) or '(none: synthetic market)'}")
        missing = [x for x in want if not Path(x).is_file()]
        if missing:
            raise click.ClickException(f"cannot resume run {resume_run}: its data file {missing[0]} "
                                       "no longer exists")
        out["paths"], out["more_paths"] = tuple(want), ()
    return out


@click.command("backtest")
@click.option("--strategy", "strategy_spec", default="market_maker", show_default=True,
              help="A built-in strategy (market_maker) or path/file.py:Class, a subclass of "
                   "bot.strategy.Strategy.")
@click.option("--param", "params", multiple=True, metavar="K=V",
              help="A keyword argument for the strategy's __init__ (repeat); values are read as "
                   "int, float, true/false or text.")
@market_options
def backtest(strategy_spec, params, **kw):
    """Backtest a strategy through the simulated venue (queue position, latency, fees,
    impact) and print its summary. Same seed and data, same trades."""
    kw = resume_values("backtest", {"strategy_spec": strategy_spec, "params": parse_params(params), **kw})
    strategy_spec, kwargs = kw.pop("strategy_spec"), kw.pop("params")
    cls = load_strategy_class(strategy_spec)
    run_command("backtest", lambda inst: make_strategy(cls, kwargs),
                config_extra={"strategy": strategy_spec, "params": kwargs}, **kw)


@click.command("sim")
@click.option("--qty", default=None, help="Quote size in base units (default: ~2x min notional).")
@click.option("--half-spread-ticks", type=click.IntRange(min=1), default=1, show_default=True)
@market_options
def sim(qty, half_spread_ticks, **kw):
    """The built-in market maker (quotes around the microprice) through the simulated venue,
    with queue position, latency, fees and impact; prints fills, PnL, fees and queue
    statistics. The short demo of `bot4 backtest --strategy market_maker`.

    `bot4 sim --data A B C` replays the recorded files A, B, C as one session."""
    kw = resume_values("sim", {"qty": qty, "half_spread_ticks": half_spread_ticks, **kw})
    qty, half_spread_ticks = kw.pop("qty"), kw.pop("half_spread_ticks")
    if qty is None and half_spread_ticks != 1:
        raise click.BadParameter("give --qty with --half-spread-ticks", param_hint="--half-spread-ticks")
    run_command("sim", functools.partial(_market_maker, qty, half_spread_ticks),
                config_extra={"qty": qty, "half_spread_ticks": half_spread_ticks}, **kw)


def _market_maker(qty, half_spread_ticks, inst):
    from bot.model import InstrumentError
    from bot.strategy import MicropriceMM

    if qty is None:
        return MicropriceMM()
    try:
        lots = inst.qty_to_lots(qty)
    except InstrumentError as e:
        raise click.BadParameter(str(e), param_hint="--qty") from None
    if lots < 1:
        raise click.BadParameter(f"--qty {qty} is zero lots", param_hint="--qty")
    return MicropriceMM(order_qty=lots, half_spread_ticks=half_spread_ticks)
