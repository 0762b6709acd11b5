"""`bot4 sim`: run the built-in microprice market maker through the simulated venue."""

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
@click.argument("more_paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
def sim(paths, n_events, seed, regime, qty, half_spread_ticks, queue_model, latency_sigma,
        show_fills, as_json, more_paths):
    """Simulated trading: a market maker quoting around the microprice, with queue position,
    latency, fees and impact; prints fills, PnL, fees and queue statistics.

    `bot4 sim --data A B C` replays the recorded files A, B, C as one session."""
    if more_paths and not paths:
        raise click.UsageError("data files go after --data (bot4 sim --data FILE...)")
    paths = tuple(paths) + tuple(more_paths)
    from bot import config as config_mod
    from bot.sim.runner import run_market_maker
    from bot.sim.venue import Latency, VenueConfig
    from bot.strategy.microprice_mm import MicropriceMM

    cfg = config_mod.load().sim
    seed = cfg.seed if seed is None else seed
    if paths:
        from bot.data.commands import load_input

        fmt, ev, inst = load_input(list(paths))
        if fmt not in ("events", "tardis", "binance"):
            raise click.ClickException(f"{paths[0]}: {fmt} data has no order book to simulate on")
        source = ", ".join(paths)
    else:
        from engine.synth import generate

        n = cfg.events if n_events is None else n_events
        reg = cfg.regime if regime is None else regime
        ev, inst = generate(n, seed=seed, regime=reg)
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
    res = run_market_maker(ev, inst, venue_cfg, strategy, interval_ns=cfg.interval_ms * 1_000_000)
    summary = res.summary()
    summary["source"] = source
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
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
