"""`bot4 sim`: run the built-in microprice market maker through the simulated venue.

Without --store (the default, what `make sim` runs) nothing touches a database. With
`--store DSN` every order event and fill is journaled to that store (bot.store.Journal,
one run per session) and the strategy is told of each only once it is durable; at the end
the run is recovered from the store, compared with the OMS, and checked (`bot4 store
check`). `--resume RUN_ID` replays a journaled run with the same options and checks the
recovered state against the OMS where the store left off. See bot.sim.runner.
"""

from __future__ import annotations

import json

import click


@click.command("sim")
@click.option("--data", "paths", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="Recorded data (Binance recording, Tardis CSV or Bot4 Parquet events); "
                   "repeat for several files. Default: a synthetic market (engine.synth).")
@click.option("--events", "n_events", type=click.IntRange(min=50), default=None,
              help="Synthetic events to generate (default: [sim] events).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Seed for data and latency.")
@click.option("--regime", type=click.Choice(["bull", "bear", "sideways", "crisis"]), default=None)
@click.option("--qty", default=None, help="Quote size in base units (default: ~2x min notional).")
@click.option("--half-spread-ticks", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--queue-model", type=click.Choice(["risk_averse", "power", "log"]), default=None)
@click.option("--latency-sigma", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Lognormal sigma of entry/ack latency (0: constant).")
@click.option("--show-fills", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--store", "store_dsn", default=None, metavar="DSN",
              help="Journal every order event and fill to this store (sqlite:///path or "
                   "postgresql://...; password from [store] password_env/password_file). "
                   "Fees finer than the store's 1e-9 quote unit are rounded up to it. "
                   "Default: no store (fast, no database).")
@click.option("--durability", type=click.Choice(["batch", "event"]), default=None,
              help="With --store: one commit (fsync) per batch or per event (default: [store] durability).")
@click.option("--strategy-view", type=click.Choice(["wait", "lag"]), default="wait", show_default=True,
              help="With --store: 'wait' holds each strategy step (wall clock only) until what it is "
                   "told is durable, so runs are reproducible; 'lag' never waits and tells the "
                   "strategy what is durable so far, as live trading would (not reproducible).")
@click.option("--run-id", default=None, help="With --store: the run's id (default: sim-<seed>-<random>).")
@click.option("--resume", "resume_run", default=None, metavar="RUN_ID",
              help="With --store: replay run RUN_ID (same options as when it started), check the "
                   "recovered orders, fills, positions and balances against the OMS where the store "
                   "left off, and journal the rest.")
@click.argument("more_paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def sim(paths, n_events, seed, regime, qty, half_spread_ticks, queue_model, latency_sigma,
        show_fills, as_json, store_dsn, durability, strategy_view, run_id, resume_run, more_paths):
    """Simulated trading: a market maker quoting around the microprice, with queue position,
    latency, fees and impact; prints fills, PnL, fees and queue statistics.

    `bot4 sim --data A B C` replays the recorded files A, B, C as one session."""
    if more_paths and not paths:
        raise click.UsageError("data files go after --data (bot4 sim --data FILE...)")
    paths = tuple(paths) + tuple(more_paths)
    if store_dsn is None:
        for name, given in (("--durability", durability is not None), ("--run-id", run_id is not None),
                            ("--resume", resume_run is not None), ("--strategy-view", strategy_view != "wait")):
            if given:
                raise click.UsageError(f"{name} needs --store DSN")
    if run_id is not None and resume_run is not None:
        raise click.UsageError("give either --run-id (a new run) or --resume RUN_ID, not both")
    if resume_run is not None and strategy_view != "wait":
        raise click.UsageError("--resume replays the session, which is reproducible only with --strategy-view wait")
    from bot import config as config_mod
    from bot.sim.runner import run_market_maker
    from bot.sim.venue import Latency, VenueConfig
    from bot.strategy.microprice_mm import MicropriceMM

    full_cfg = config_mod.load()
    cfg = full_cfg.sim
    seed = cfg.seed if seed is None else seed
    if paths:
        from bot.data.commands import load_input

        fmt, ev, inst = load_input(list(paths))
        if fmt not in ("events", "tardis", "binance"):
            raise click.ClickException(f"{paths[0]}: {fmt} data has no order book to simulate on")
        source = ", ".join(paths)
    else:
        from bot.data.synthetic import synthetic_market

        n = cfg.events if n_events is None else n_events
        reg = cfg.regime if regime is None else regime
        ev, inst = synthetic_market(n, seed=seed, regime=reg)
        source = f"synthetic ({reg}, seed {seed}, {n} events)"
    venue_cfg = VenueConfig(
        entry_latency=Latency(cfg.entry_latency_us * 1000, latency_sigma),
        ack_latency=Latency(cfg.ack_latency_us * 1000, latency_sigma),
        md_latency=Latency(cfg.md_latency_us * 1000),
        queue_model=queue_model or cfg.queue_model, seed=seed)
    strategy = None
    if qty is not None:
        from bot.data.instruments import InstrumentError

        try:
            lots = inst.qty_to_lots(qty)
        except InstrumentError as e:
            raise click.BadParameter(str(e), param_hint="--qty") from None
        if lots < 1:
            raise click.BadParameter(f"--qty {qty} is zero lots", param_hint="--qty")
        strategy = MicropriceMM(order_qty=lots, half_spread_ticks=half_spread_ticks)
    elif half_spread_ticks != 1:
        raise click.BadParameter("give --qty with --half-spread-ticks", param_hint="--half-spread-ticks")
    session = None
    if store_dsn is not None:
        session = _open_session(full_cfg.store, store_dsn, durability, strategy_view, run_id, resume_run, seed, {
            "source": source, "data": list(paths), "seed": seed, "qty": qty,
            "half_spread_ticks": half_spread_ticks, "queue_model": venue_cfg.queue_model,
            "latency_sigma": latency_sigma, "entry_latency_us": cfg.entry_latency_us,
            "ack_latency_us": cfg.ack_latency_us, "md_latency_us": cfg.md_latency_us,
            "interval_ms": cfg.interval_ms})
    try:
        res = run_market_maker(ev, inst, venue_cfg, strategy, interval_ns=cfg.interval_ms * 1_000_000,
                               session=session)
    except Exception as e:
        from bot.sim.runner import SimJournalError
        from bot.store.errors import StoreError

        if isinstance(e, (SimJournalError, StoreError)):
            raise click.ClickException(str(e)) from None
        raise
    finally:
        if session is not None:
            session.store.close()
    summary = res.summary()
    summary["source"] = source
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
        _store_verdict(res.store)
        return
    click.echo(f"bot4 sim: microprice market maker on {source}")
    click.echo(f"  {summary['instrument']}: {res.events:,} events replayed in {res.seconds:.2f} s; "
               f"{res.orders_sent} orders sent, rejects {summary['rejects'] or 'none'}")
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


def _open_session(store_cfg, dsn, durability, view, run_id, resume_run, seed, config):
    import uuid

    from bot.sim.runner import SessionStore, SimJournalError
    from bot.store import StoreError, open_store

    try:
        st = open_store(dsn, password_env=store_cfg.password_env, password_file=store_cfg.password_file)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    try:
        return SessionStore(st, resume_run or run_id or f"sim-{seed}-{uuid.uuid4().hex[:8]}",
                            durability=durability or store_cfg.durability, view=view,
                            resume=resume_run is not None, config=config,
                            batch_size=store_cfg.batch_size, max_in_flight=store_cfg.max_in_flight)
    except SimJournalError as e:
        st.close()
        raise click.ClickException(str(e)) from None


def _store_verdict(st):
    """Exit 1 when the store disagrees with the OMS or fails its checks."""
    if st is not None and not (st["recovered_equals_oms"] and st["check_ok"]):
        raise click.ClickException(f"store run {st['run_id']}: recovered state differs from the OMS or "
                                   "the store's invariant checks failed (listed above)")
