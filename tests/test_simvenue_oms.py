"""The OMS driving the simulated venue: a bracket whose entry fills in parts through the
queue, exits placed, amended and cancelled at the venue, target or stop completing it;
positions and money exact."""

from decimal import Decimal

from engine import events as E
from bot.model import Instrument
from bot.model import OrderState
from bot.oms import OrderManager
from eventbuild import EventBuilder
from bot.venues.sim import Latency, VenueConfig
from sim_reference import SimVenue, apply_report, send_requests

BID, ASK = E.SIDE_BID, E.SIDE_ASK
INST = Instrument("test", "T", Decimal("0.01"), Decimal("0.001"), Decimal("0"))
S = OrderState


def market(tail):
    b = EventBuilder().snapshot(1_000, [(1000, 50), (994, 100)], [(1001, 50), (1003, 5)])
    b.trade(10_000, 1000, 50, ASK)   # the volume ahead of our entry
    b.trade(11_000, 1000, 4, ASK)    # entry fills 4
    b.trade(20_000, 1000, 6, ASK)    # entry fills 6 more
    b.diff(20_500, [(BID, 1000, 0)])  # the bid level is gone; 994 is the touch
    tail(b)
    b.diff(90_000, [(BID, 990, 1)])  # a last row so the replay runs past the tail
    return b.build()


def drive(events, until=100_000, step=500):
    cfg = VenueConfig(entry_latency=Latency(0), ack_latency=Latency(0), percent_price=1)
    venue = SimVenue(events, INST, cfg)
    oms = OrderManager(symbol="T")
    unit = INST.tick_size * INST.lot_size
    b = oms.submit_bracket("br", "buy", 10, 1000, stop_offset=5, target_offset=3)
    snapshots = {}
    for t in range(2_000, until, step):
        for r in venue.advance(t):
            apply_report(oms, r, unit)
        send_requests(oms, venue, t)
        snapshots[t] = {cid: venue.core.get(info.core_id) for cid, info in venue._orders.items()}
    for r in venue.finish():
        apply_report(oms, r, unit)
    return oms, b, venue, snapshots


def test_bracket_target_completes_and_stop_is_cancelled():
    def tail(b):
        b.trade(30_000, 1003, 5, BID)   # the 5 displayed at 1003 ahead of our target
        b.trade(31_000, 1003, 4, BID)   # target fills 4: stop shrinks to 6
        b.trade(40_000, 1003, 6, BID)   # target completes
    oms, b, venue, snaps = drive(market(tail))
    o = oms.orders
    assert o["br:entry"].state is S.FILLED and o["br:entry"].filled == 10
    assert o["br:target"].state is S.FILLED and o["br:target"].price == 1003
    assert o["br:stop"].state is S.CANCELLED and o["br:stop"].price == 995
    assert b.done and b.overfill == 0 and b.unprotected == 0
    # after the first entry fill the exits worked 4, after the second 10, after the
    # partial target fill the stop was cut to the 6 still open
    stop_id = venue._orders["br:stop"].core_id
    assert venue.core.get(stop_id) is None
    assert snaps[15_000]["br:stop"][1] == 4 and snaps[25_000]["br:stop"][1] == 10
    assert snaps[35_000]["br:stop"][1] == 6 and snaps[35_000]["br:target"][1] == 6
    p = oms.portfolio
    assert p.position("T").qty == 0 and p.realized_pnl == 10 * (1003 - 1000)
    assert p.conservation_gap() == 0 and p.fees_paid > 0


def test_bracket_stop_triggers_takes_bids_and_target_is_cancelled():
    def tail(b):
        b.trade(30_000, 995, 1, ASK)    # prints at the stop's trigger
    oms, b, venue, _ = drive(market(tail))
    o = oms.orders
    assert o["br:stop"].state is S.FILLED and o["br:stop"].avg_price == 994
    assert o["br:target"].state is S.CANCELLED
    assert b.done
    p = oms.portfolio
    assert p.position("T").qty == 0 and p.realized_pnl == 10 * (994 - 1000)
    assert p.conservation_gap() == 0
    fill = [f for f in venue.fills if f.client_id == "br:stop"]
    assert [(f.price, f.qty, f.liquidity) for f in fill] == [(994, 10, "taker")]
