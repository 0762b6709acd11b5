"""Model registry: content addressing, lifecycle transitions against a plain model, checksum
refusal with the fallback serving, canary routing, and SLO-driven rollback with audit."""

import json

import numpy as np
import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.ml.registry import (
    ALLOWED, STATES, CanaryRouter, ChecksumError, Registry, RegistryError, sha256_hex,
)
from bot.ml.slo import SloMonitor

META = {"features_layout_version": 3, "training_data_hash": "ab" * 32, "metrics": {"auc": 0.61}}


def _meta(**kw):
    return {**META, **kw}


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "reg")
    yield r
    r.close()


def _three(reg):
    """Models a (fallback), b (active), c (registered)."""
    a = reg.register(b"model-a" * 100, _meta(name="m"))
    b = reg.register(b"model-b" * 100, _meta(name="m"))
    c = reg.register(b"model-c" * 100, _meta(name="m"))
    reg.promote(a.sha256, "active")
    reg.promote(b.sha256, "active")  # a -> fallback
    return a, b, c


def test_open_without_create_needs_an_existing_registry(tmp_path):
    root = tmp_path / "a" / "reg"
    with pytest.raises(RegistryError, match=f"no model registry at {root}: the directory does not exist"):
        Registry(root, create=False)
    assert not (tmp_path / "a").exists()
    root.mkdir(parents=True)
    with pytest.raises(RegistryError, match="registry.db does not exist"):
        Registry(root, create=False)
    assert list(root.iterdir()) == []
    with Registry(root) as r:  # create=True: registering makes the registry
        e = r.register(b"x" * 10, META)
    with Registry(root, create=False) as r:
        assert [m.sha256 for m in r.list()] == [e.sha256]


def test_a_corrupt_registry_db_is_a_registry_error_and_left_alone(tmp_path):
    root = tmp_path / "reg"
    with Registry(root) as r:
        r.register(b"x" * 10, META)
    db = root / "registry.db"
    db.write_bytes(db.read_bytes()[:3000])
    names = sorted(p.name for p in root.iterdir())
    for create in (True, False):
        with pytest.raises(RegistryError, match=f"SQLite file {db} is corrupt or truncated"):
            Registry(root, create=create)
        assert len(db.read_bytes()) == 3000 and sorted(p.name for p in root.iterdir()) == names


def test_register_content_addressed(reg, tmp_path):
    data = b"\x00onnx-bytes\xff" * 50
    rec = reg.register(data, _meta(name="lgbm"))
    assert rec.sha256 == sha256_hex(data) and rec.state == "registered"
    assert rec.version == 1 and rec.name == "lgbm"
    assert (reg.root / rec.path).read_bytes() == data
    assert rec.path == f"blobs/{rec.sha256[:2]}/{rec.sha256}"
    assert rec.features_layout_version == 3 and rec.training_data_hash == "ab" * 32
    assert rec.metrics == {"auc": 0.61}
    assert rec.library_versions["lightgbm"] and rec.library_versions["onnxruntime"]
    # same bytes: same record; a file path works too
    assert reg.register(data, _meta(name="lgbm")) == rec
    p = tmp_path / "m.onnx"
    p.write_bytes(b"other")
    rec2 = reg.register(p, {"layout_version": 3, "data_sha256": "cd" * 32, "name": "lgbm"})
    assert rec2.version == 2 and rec2.training_data_hash == "cd" * 32
    assert reg.load_bytes(rec.sha256) == data and reg.verify(rec.sha256)
    assert reg.get(rec.sha256[:10]) == rec
    assert [e.sha256 for e in reg.list()] == [rec.sha256, rec2.sha256]
    # a second Registry over the same root sees the same records (they live in the store)
    with Registry(reg.root) as again:
        assert again.get(rec.sha256) == rec


@pytest.mark.parametrize("meta,match", [
    ({"training_data_hash": "x"}, "features layout version"),
    ({"features_layout_version": 1}, "training data hash"),
    ({**META, "metrics": [1]}, "meta.metrics must be a dict"),
    ({**META, "name": ""}, "meta.name"),
    ({**META, "obj": object()}, "JSON-serializable"),
])
def test_register_refuses_bad_meta(reg, meta, match):
    with pytest.raises(RegistryError, match=match):
        reg.register(b"abc", meta)
    assert reg.list() == []
    with pytest.raises(RegistryError, match="empty"):
        reg.register(b"", META)
    with pytest.raises(RegistryError, match="cannot read model file"):
        reg.register("/nonexistent/model.onnx", META)


def test_transitions_and_singletons(reg):
    a, b, c = _three(reg)
    assert reg.get(a.sha256).state == "fallback" and reg.get(b.sha256).state == "active"
    with pytest.raises(RegistryError, match="cannot move model .* from registered to registered|already registered"):
        reg.promote(c.sha256, "registered")
    reg.promote(c.sha256, "canary")
    d = reg.register(b"model-d", _meta(name="m"))
    with pytest.raises(RegistryError, match="a canary is already running"):
        reg.promote(d.sha256, "canary")
    reg.promote(c.sha256, "active")  # b -> fallback, a -> retired
    assert [reg.get(x.sha256).state for x in (a, b, c)] == ["retired", "fallback", "active"]
    with pytest.raises(RegistryError, match="from retired to active; allowed: none"):
        reg.promote(a.sha256, "active")
    with pytest.raises(RegistryError, match="state must be one of"):
        reg.promote(d.sha256, "production")
    with pytest.raises(RegistryError, match="no model"):
        reg.get("0" * 64)


def test_checksum_refusal_fallback_serves(reg):
    a, b, c = _three(reg)
    entry, data = reg.serving()
    assert entry.sha256 == b.sha256 and data == b"model-b" * 100
    # corrupt the active model's blob on disk
    path = reg.root / b.path
    path.write_bytes(b"model-b" * 99 + b"model-X")
    with pytest.raises(ChecksumError, match=f"model {b.sha256} .* refused: the bytes at .* hash to"):
        reg.load_bytes(b.sha256)
    assert not reg.verify(b.sha256)
    entry, data = reg.serving(actor="engine")
    assert entry.sha256 == a.sha256 and data == b"model-a" * 100  # the fallback serves
    assert reg.get(b.sha256).state == "retired" and reg.get(a.sha256).state == "active"
    log = reg.audit_log(b.sha256)
    assert log[-1].old_value == "active" and json.loads(log[-1].new_value)["state"] == "retired"
    assert "checksum refused" in json.loads(log[-1].new_value)["reason"] and log[-1].actor == "engine"
    # a corrupt model cannot be promoted; a missing blob is refused the same way
    (reg.root / c.path).write_bytes(b"not c")
    for state in ("canary", "active", "fallback"):
        with pytest.raises(ChecksumError, match="refused"):
            reg.promote(c.sha256, state)
    assert reg.get(c.sha256).state == "registered"
    path.unlink()
    assert not reg.verify(b.sha256)


def test_corrupt_active_without_fallback(reg):
    x = reg.register(b"only", META)
    reg.promote(x.sha256, "active")
    (reg.root / x.path).write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="no fallback model to serve instead"):
        reg.serving()
    assert reg.get(x.sha256).state == "active"  # nothing changed but the audit record
    assert "refused" in json.loads(reg.audit_log(x.sha256)[-1].new_value)["reason"]


def test_rollback(reg):
    a, b, c = _three(reg)
    reg.promote(c.sha256, "canary")
    assert reg.rollback("canary misbehaves").sha256 == b.sha256  # default: the canary
    assert reg.get(c.sha256).state == "retired" and reg.get(b.sha256).state == "active"
    assert reg.rollback("active misbehaves").sha256 == a.sha256
    assert reg.get(b.sha256).state == "retired" and reg.get(a.sha256).state == "active"
    with pytest.raises(RegistryError, match="no fallback model"):
        reg.rollback("again")
    assert reg.get(a.sha256).state == "active"
    with pytest.raises(RegistryError, match="needs a reason"):
        reg.rollback("")


class RegistryMachine(RuleBasedStateMachine):
    """Random promote/rollback sequences against a plain dict model of the states."""

    def __init__(self):
        super().__init__()
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.reg = Registry(self.dir.name)
        self.shas = [self.reg.register(f"m{i}".encode(), META).sha256 for i in range(5)]
        self.model = {s: "registered" for s in self.shas}

    def teardown(self):
        self.reg.close()
        self.dir.cleanup()

    def _holder(self, state):
        hits = [s for s, v in self.model.items() if v == state]
        return hits[0] if hits else None

    @rule(i=st.integers(0, 4), to=st.sampled_from(STATES))
    def promote(self, i, to):
        sha = self.shas[i]
        cur = self.model[sha]
        ok = to != cur and to in ALLOWED[cur] and not (to == "canary" and self._holder("canary"))
        if not ok:
            with pytest.raises(RegistryError):
                self.reg.promote(sha, to)
            return
        self.reg.promote(sha, to)
        if to == "active" and self._holder("active"):
            if self._holder("fallback"):
                self.model[self._holder("fallback")] = "retired"
            self.model[self._holder("active")] = "fallback"
        if to == "fallback" and self._holder("fallback"):
            self.model[self._holder("fallback")] = "retired"
        self.model[sha] = to

    @rule()
    def rollback(self):
        canary, active, fb = self._holder("canary"), self._holder("active"), self._holder("fallback")
        if canary:
            self.reg.rollback("test")
            self.model[canary] = "retired"
        elif active and fb:
            self.reg.rollback("test")
            self.model[active], self.model[fb] = "retired", "active"
        else:
            with pytest.raises(RegistryError):
                self.reg.rollback("test")

    @invariant()
    def states_agree(self):
        assert {e.sha256: e.state for e in self.reg.list()} == self.model
        for s in ("canary", "active", "fallback"):
            assert sum(v == s for v in self.model.values()) <= 1


TestRegistryMachine = RegistryMachine.TestCase
TestRegistryMachine.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)


def test_canary_router_fraction_and_determinism():
    for fraction in (0.0, 0.05, 0.25, 1.0):
        r = CanaryRouter(fraction, seed=42)
        n = 40_000
        routes = [r.route(i) for i in range(n)]
        share = routes.count("canary") / n
        # binomial: 5 standard deviations of the share
        assert abs(share - fraction) <= 5 * np.sqrt(fraction * (1 - fraction) / n) + 1e-12
        assert routes == [CanaryRouter(fraction, seed=42).route(i) for i in range(n)]
        active, canary = r.split_capital(10_000.0)
        assert canary == pytest.approx(10_000.0 * fraction) and active + canary == pytest.approx(10_000.0)
    a = [CanaryRouter(0.3, seed=1).route(i) for i in range(1000)]
    b = [CanaryRouter(0.3, seed=2).route(i) for i in range(1000)]
    assert a != b  # the seed matters
    with pytest.raises(ValueError, match="canary fraction must be in \\[0, 1\\], got 1.5"):
        CanaryRouter(1.5)
    with pytest.raises(ValueError, match="capital must be >= 0"):
        CanaryRouter(0.1).split_capital(-1.0)


def _monitored(reg, role):
    a, b, c = _three(reg)
    if role == "canary":
        reg.promote(c.sha256, "canary")
        return SloMonitor(reg, c.sha256, p999_us=500, error_rate=0.02, drawdown=0.05, window=200, check_every=10), c, b
    return SloMonitor(reg, b.sha256, p999_us=500, error_rate=0.02, drawdown=0.05, window=200, check_every=10), b, a


@pytest.mark.parametrize("role", ["canary", "active"])
@pytest.mark.parametrize("kind", ["latency", "error_rate", "drawdown"])
def test_slo_breach_rolls_back_and_audits(reg, role, kind):
    mon, watched, serves_after = _monitored(reg, role)
    rng = np.random.default_rng(0)
    # a healthy stretch: no rollback
    for _ in range(400):
        assert mon.record(rng.uniform(50e3, 150e3), False, rng.normal(0, 1e-4)) is None
    assert not mon.tripped and reg.get(watched.sha256).state == role
    breach = None
    for i in range(400):
        lat, err, pnl = rng.uniform(50e3, 150e3), False, rng.normal(0, 1e-4)
        if kind == "latency" and i % 50 == 0:
            lat = 5e6  # 5 ms spikes: 1 in 50 > 0.1% of the window
        if kind == "error_rate" and i % 20 == 0:
            err = True  # 5% errors
        if kind == "drawdown":
            pnl = -0.002  # a steady loss: 0.05 lost after 25 decisions
        breach = mon.record(lat, err, pnl) or breach
        if breach:
            break
    assert breach is not None and breach.kind == kind and breach.value > breach.limit
    assert mon.tripped and reg.get(watched.sha256).state == "retired"
    assert reg.get(serves_after.sha256).state == "active"
    last = reg.audit_log(watched.sha256)[-1]
    assert last.actor == "slo-monitor" and last.old_value == role
    assert json.loads(last.new_value) == {"state": "retired", "reason": f"rollback: {breach.reason}"}
    assert mon.record(1e9, True, -1.0) is None  # tripped: no second rollback


def test_slo_window_forgets_old_breaches(reg):
    mon, watched, _ = _monitored(reg, "active")
    mon.error_rate = 0.5
    for i in range(200):
        mon.record(1e3, i < 20, 0.0)  # 10% errors early, under the 50% limit
    assert mon.stats()["error_rate"] == pytest.approx(0.1)
    for _ in range(200):
        mon.record(1e3, False, 0.0)
    assert mon.stats()["error_rate"] == 0.0 and not mon.tripped
    # drawdown is measured within the window, oldest first
    for p in [0.01] * 100 + [-0.004] * 10 + [0.0] * 90:
        mon.record(1e3, False, p)
    assert mon.stats()["drawdown"] == pytest.approx(0.04)


def test_slo_argument_checks(reg):
    x = reg.register(b"x", META)
    with pytest.raises(ValueError, match="p999_us must be finite and > 0, got 0"):
        SloMonitor(reg, x.sha256, p999_us=0, error_rate=0.01, drawdown=0.1)
    with pytest.raises(ValueError, match="error_rate must be in"):
        SloMonitor(reg, x.sha256, p999_us=1, error_rate=1.0, drawdown=0.1)
    with pytest.raises(ValueError, match="window must be"):
        SloMonitor(reg, x.sha256, p999_us=1, error_rate=0.1, drawdown=0.1, window=0)
    mon = SloMonitor(reg, x.sha256, p999_us=1, error_rate=0.1, drawdown=0.1, window=10)
    with pytest.raises(ValueError, match="latency_ns must be finite"):
        mon.record(float("nan"))
    with pytest.raises(ValueError, match="pnl must be finite"):
        mon.record(1.0, False, float("inf"))
    assert mon.n == 0
