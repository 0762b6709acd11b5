"""Plain numpy references of every microstructure feature (formulas: csrc/micro_features.h).

Input: the event rows, the top levels after each book message (the `levels` trace of
engine.features.compute, itself checked against a Python book in the tests), and the rows
at which samples were taken. Everything here is written from the formulas, vectorized
with cumulative sums where the formula is a window sum, and with plain loops where it is
sequential (VPIN buckets). Window sums of integers are exact (int64 cumsums, then Python
ints for products), so most features agree with C to the last bit.
"""

from __future__ import annotations

import math

import numpy as np

from engine.feature_layout import INDEX, LEVELS, N_FEATURES, FeatureParams

MIN_DT_NS = 1000
EV_TRADE, SIDE_BID, SIDE_ASK, EVF_END = 3, 0, 1, 2


def _window_sum(cs: np.ndarray, idx: np.ndarray, w: int) -> np.ndarray:
    """sum of x[max(0, i-w+1) .. i] from cs = cumsum(x) with a leading 0, for each i."""
    lo = np.maximum(idx + 1 - w, 0)
    return cs[idx + 1] - cs[lo]


def _csum(x: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(x)]).astype(x.dtype if x.dtype.kind == "f" else np.int64)


def reference(events: np.ndarray, levels: np.ndarray, sample_rows: np.ndarray,
              params: FeatureParams | None = None) -> np.ndarray:
    p = params or FeatureParams()
    n_s = len(sample_rows)
    out = np.full((n_s, N_FEATURES), np.nan)
    kind, flags = events["kind"], events["flags"]
    ts_row = events["ts_local"]
    book_end = np.flatnonzero((kind <= 2) & ((flags & EVF_END) != 0))
    assert len(book_end) == len(levels), "one trace row per book message"
    if len(levels) == 0:  # no book message yet: one empty state keeps the indexing simple
        levels = np.zeros(1, dtype=levels.dtype)
    M = len(levels)
    # message index of the state at each sample row (-1: no book message yet)
    m_at = np.searchsorted(book_end, sample_rows, side="right") - 1
    now = ts_row[sample_rows]

    bp, bq = levels["bid_px"].astype(np.int64), levels["bid_qty"].astype(np.int64)
    ap, aq = levels["ask_px"].astype(np.int64), levels["ask_qty"].astype(np.int64)
    ts_m = levels["ts"]
    # previous state (zeros before the first message)
    z = np.zeros((1, LEVELS), np.int64)
    bp0, bq0 = np.vstack([z, bp[:-1]]), np.vstack([z, bq[:-1]])
    ap0, aq0 = np.vstack([z, ap[:-1]]), np.vstack([z, aq[:-1]])
    INF = np.iinfo(np.int64).max
    ak, ak0 = np.where(aq > 0, ap, INF), np.where(aq0 > 0, ap0, INF)

    # --- OFI per level (Cont, Kukanov & Stoikov 2014) ---
    e = (np.where(bp >= bp0, bq, 0) - np.where(bp <= bp0, bq0, 0)
         - np.where(ak <= ak0, aq, 0) + np.where(ak >= ak0, aq0, 0))

    # --- mid changes and signed volume per message ---
    two = (bq[:, 0] > 0) & (aq[:, 0] > 0)
    mid2 = np.where(two, bp[:, 0] + ap[:, 0], 0)
    two0 = np.concatenate([[False], two[:-1]])
    mid20 = np.concatenate([[0], mid2[:-1]])
    y = np.where(two & two0, mid2 - mid20, 0)
    is_trade = kind == EV_TRADE
    sgn = np.where(events["side"] == SIDE_BID, 1, np.where(events["side"] == SIDE_ASK, -1, 0))
    signed_row = np.where(is_trade, sgn * events["qty"], 0).astype(np.int64)
    cs_signed = _csum(signed_row)
    ends = book_end
    prev_end = np.concatenate([[-1], ends[:-1]])
    x = cs_signed[ends + 1] - cs_signed[prev_end + 1]

    # --- touch depth removed unexplained by trades ---
    tr = np.flatnonzero(is_trade)
    t_px, t_q, t_side, t_ts = events["price"][tr], events["qty"][tr], events["side"][tr], ts_row[tr]
    pm = np.searchsorted(ends, tr, side="right") - 1  # state the trade met
    ok = pm >= 0
    pmc = np.where(ok, pm, 0)
    hitb = ok & (t_side == SIDE_ASK) & (bq[pmc, 0] > 0) & (t_px == bp[pmc, 0])
    hita = ok & (t_side == SIDE_BID) & (aq[pmc, 0] > 0) & (t_px == ap[pmc, 0])
    hit_bid = np.bincount(pm[hitb] + 1, weights=t_q[hitb], minlength=M + 1)[:M].astype(np.int64)
    hit_ask = np.bincount(pm[hita] + 1, weights=t_q[hita], minlength=M + 1)[:M].astype(np.int64)
    rem_b = np.where(bq0[:, 0] > 0,
                     np.where((bq[:, 0] == 0) | (bp[:, 0] < bp0[:, 0]), bq0[:, 0],
                              np.where(bp[:, 0] == bp0[:, 0], np.maximum(bq0[:, 0] - bq[:, 0], 0), 0)), 0)
    rem_a = np.where(aq0[:, 0] > 0,
                     np.where((aq[:, 0] == 0) | (ap[:, 0] > ap0[:, 0]), aq0[:, 0],
                              np.where(ap[:, 0] == ap0[:, 0], np.maximum(aq0[:, 0] - aq[:, 0], 0), 0)), 0)
    c = (np.where(bq0[:, 0] > 0, np.maximum(rem_b - hit_bid, 0), 0)
         + np.where(aq0[:, 0] > 0, np.maximum(rem_a - hit_ask, 0), 0))

    # --- touch survival ---
    ar = np.arange(M)
    chg_b = (bq[:, 0] > 0) & ((bq0[:, 0] == 0) | (bp0[:, 0] != bp[:, 0]))
    chg_a = (aq[:, 0] > 0) & ((aq0[:, 0] == 0) | (ap0[:, 0] != ap[:, 0]))
    last_b = np.maximum.accumulate(np.where(chg_b, ar, -1)) if M else ar
    last_a = np.maximum.accumulate(np.where(chg_a, ar, -1)) if M else ar

    has = m_at >= 0
    mi = np.where(has, m_at, 0)
    cur_two = has & two[mi]
    # --- top of book ---
    pb, pa = bp[mi, 0].astype(float), ap[mi, 0].astype(float)
    qb = np.where(has, bq[mi, 0], 0).astype(float)
    qa = np.where(has, aq[mi, 0], 0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, INDEX["spread"]] = np.where(cur_two, (ap[mi, 0] - bp[mi, 0]).astype(float), np.nan)
        mid = np.where(cur_two, 0.5 * (bp[mi, 0] + ap[mi, 0]).astype(float), np.nan)
        out[:, INDEX["mid"]] = mid
        micro = np.where(cur_two, (pb * qa + pa * qb) / (qb + qa), np.nan)
        out[:, INDEX["microprice"]] = micro
        L = p.momentum_lag
        mom = np.full(n_s, np.nan)
        if n_s > L:
            mom[L:] = micro[L:] - micro[:-L]
        out[:, INDEX["microprice_mom"]] = mom
        B = np.where(has[:, None], bq[mi], 0)
        A = np.where(has[:, None], aq[mi], 0)
        for k in range(LEVELS):
            s = B[:, k] + A[:, k]
            out[:, INDEX[f"imbalance_{k + 1}"]] = np.where(s > 0, (B[:, k] - A[:, k]) / np.where(s > 0, s, 1), 0.0)
        sb, sa = B.sum(1), A.sum(1)
        out[:, INDEX["imbalance_cum"]] = np.where(sb + sa > 0, (sb - sa) / np.where(sb + sa > 0, sb + sa, 1), 0.0)
        # --- windowed message sums ---
        for k in range(LEVELS):
            cs = _csum(e[:, k])
            out[:, INDEX[f"ofi_{k + 1}"]] = np.where(has, _window_sum(cs, mi, p.ofi_window), 0).astype(float)
        # Kyle's lambda with exact integer sums
        csx, csy = _csum(x), _csum(y)
        csxx = np.concatenate([[0], np.cumsum([int(v) * int(v) for v in x], dtype=object)]) if M else np.zeros(1, object)
        csxy = np.concatenate([[0], np.cumsum([int(a) * int(b) for a, b in zip(x, y)], dtype=object)]) if M else np.zeros(1, object)
        kyle = np.full(n_s, np.nan)
        rv = np.full(n_s, np.nan)
        csyy = _csum(y * y)
        for s_i in range(n_s):
            if not has[s_i]:
                continue
            m = int(mi[s_i])
            lo = max(0, m + 1 - p.kyle_window)
            n = m + 1 - lo
            sx, sy = int(csx[m + 1] - csx[lo]), int(csy[m + 1] - csy[lo])
            sxx, sxy = csxx[m + 1] - csxx[lo], csxy[m + 1] - csxy[lo]
            den = n * sxx - sx * sx
            if den != 0:
                kyle[s_i] = 0.5 * (float(n * sxy - sx * sy) / float(den))
            if cur_two[s_i]:
                lo = max(0, m + 1 - p.rv_window)
                rv[s_i] = 0.5 * math.sqrt(float(int(csyy[m + 1] - csyy[lo]))) / mid[s_i]
        out[:, INDEX["kyle_lambda"]] = kyle
        out[:, INDEX["realized_vol"]] = rv
        # cancel burst: rate over the last min(m+1, W) messages
        csc = _csum(c)
        burst = np.zeros(n_s)
        for s_i in range(n_s):
            if not has[s_i]:
                continue
            m = int(mi[s_i])

            def rate(w, m=m):
                lo = max(0, m + 1 - w)
                return int(csc[m + 1] - csc[lo]) / float(max(int(ts_m[m] - ts_m[lo]), MIN_DT_NS))

            rl = rate(p.cancel_long)
            burst[s_i] = rate(p.cancel_short) / rl if rl > 0 else 0.0
        out[:, INDEX["cancel_burst"]] = burst
        # survival
        out[:, INDEX["bid_age"]] = np.where(has & (qb > 0), (now - ts_m[last_b[mi]]) * 1e-9, np.nan)
        out[:, INDEX["ask_age"]] = np.where(has & (qa > 0), (now - ts_m[last_a[mi]]) * 1e-9, np.nan)
        out[:, INDEX["queue_ahead_bid"]] = qb
        out[:, INDEX["queue_ahead_ask"]] = qa

    # --- tape: last K trades up to each sample row ---
    K = p.trade_window
    n_tr = np.searchsorted(tr, sample_rows, side="right")
    cs_sv = _csum((sgn[tr] * t_q).astype(np.int64))
    for s_i in range(n_s):
        nt = int(n_tr[s_i])
        cnt = min(nt, K)
        if cnt == 0:
            out[s_i, INDEX["trade_intensity"]] = 0.0
            out[s_i, INDEX["signed_volume"]] = 0.0
            den = 0.0
        else:
            den = float(max(int(now[s_i] - t_ts[nt - cnt]), MIN_DT_NS))
            out[s_i, INDEX["trade_intensity"]] = cnt / den * 1e9
            out[s_i, INDEX["signed_volume"]] = float(cs_sv[nt] - cs_sv[nt - cnt])
        sl = slice(nt - cnt, nt)
        for side_name, q_col, px_arr, qty_arr, aggr in (("bid", qb, bp, bq, SIDE_ASK), ("ask", qa, ap, aq, SIDE_BID)):
            if not has[s_i] or qty_arr[mi[s_i], 0] == 0:
                eta = np.nan
            else:
                touch = px_arr[mi[s_i], 0]
                v = int(t_q[sl][(t_side[sl] == aggr) & (t_px[sl] == touch)].sum())
                eta = q_col[s_i] / (v / den * 1e9) if v > 0 else np.inf
            out[s_i, INDEX[f"fill_eta_{side_name}"]] = eta

    # --- VPIN (sequential buckets) ---
    vb, va = _vpin(t_px, t_q, t_side, p)
    for s_i in range(n_s):
        nt = int(n_tr[s_i])
        out[s_i, INDEX["vpin_bvc"]] = vb[nt]
        out[s_i, INDEX["vpin_aggressor"]] = va[nt]
    return out


def _vpin(px, q, side, p: FeatureParams):
    """VPIN after each number of trades (index 0 = before any trade)."""
    V = p.vpin_bucket
    n = len(px)
    dp = np.diff(px.astype(np.int64), prepend=px[:1].astype(np.int64)) if n else np.zeros(0, np.int64)
    cs, css = _csum(dp), _csum(dp * dp)
    vb_out, va_out = np.full(n + 1, np.nan), np.full(n + 1, np.nan)
    fill, buy_b, buy2_a = 0, 0.0, 0
    ring_b, ring_a = [], []
    for j in range(n):
        lo = max(0, j + 1 - p.bvc_window)
        cnt = j + 1 - lo
        s, ss = int(cs[j + 1] - cs[lo]), int(css[j + 1] - css[lo])
        nvar = cnt * ss - s * s
        frac = 0.5
        if nvar > 0:
            sigma = math.sqrt(float(nvar)) / cnt
            frac = 0.5 * (1.0 + math.erf(float(dp[j]) / sigma * 0.70710678118654752440))
        w2 = 2 if side[j] == SIDE_BID else 0 if side[j] == SIDE_ASK else 1
        left = int(q[j])
        while left > 0:
            take = min(V - fill, left)
            fill += take
            buy_b += take * frac
            buy2_a += take * w2
            left -= take
            if fill == V:
                ring_b.append(abs(2.0 * buy_b - V) / V)
                ring_a.append(abs(2.0 * (0.5 * buy2_a) - V) / V)
                ring_b, ring_a = ring_b[-p.vpin_buckets:], ring_a[-p.vpin_buckets:]
                fill, buy_b, buy2_a = 0, 0.0, 0
        if ring_b:
            vb_out[j + 1] = sum(ring_b) / len(ring_b)
            va_out[j + 1] = sum(ring_a) / len(ring_a)
    return vb_out, va_out
