"""Model registry: content-addressed model bytes, lifecycle states, canary routing, rollback.

Storage. A model's bytes live at ``<root>/blobs/<sha[:2]>/<sha256>`` (written to a temp file,
fsynced, then renamed, so a blob is whole or absent). Records and the audit log live in a
``bot.store.Store`` (``model_registry`` and ``audit_log`` tables); by default a SQLite store
at ``<root>/registry.db``. A record's ``metrics_json`` column holds the full metadata:
features layout version, training data hash, library versions, metrics, and whatever else
the trainer passed.

States and transitions (``ALLOWED``)::

    registered -> shadow | canary | active | fallback | retired
    shadow     -> canary | active | fallback | retired
    canary     -> active | shadow | retired
    active     -> fallback | retired
    fallback   -> active | retired
    retired    -> (none)

At most one model is active, one canary and one fallback. Promoting a model to active
demotes the previous active to fallback (and retires the previous fallback); promoting to
fallback retires the previous fallback; promoting to canary while another canary runs is
refused. Every change writes an audit entry (subject "model", key = sha256, old_value = old
state, new_value = JSON {"state", "reason"}).

Integrity. :meth:`Registry.load_bytes` re-hashes the blob and raises :class:`ChecksumError`
on a mismatch; promotion to canary/active/fallback verifies first. :meth:`Registry.serving`
returns the bytes to serve: the active model's, or - when those are missing or do not match
their checksum - the refusal is audited, the active model is rolled back (retired) and the
fallback, verified, serves instead.

Canary. :class:`CanaryRouter` sends a configured fraction of decisions (and of capital) to
the canary, deterministically from (seed, decision id). ``bot.ml.slo.SloMonitor`` watches a
model's latency, errors and drawdown and calls :meth:`Registry.rollback` on a breach.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

STATES = ("registered", "shadow", "canary", "active", "fallback", "retired")
ALLOWED = {
    "registered": {"shadow", "canary", "active", "fallback", "retired"},
    "shadow": {"canary", "active", "fallback", "retired"},
    "canary": {"active", "shadow", "retired"},
    "active": {"fallback", "retired"},
    "fallback": {"active", "retired"},
    "retired": set(),
}
SINGLETON_STATES = ("canary", "active", "fallback")
_VERIFY_BEFORE = {"canary", "active", "fallback"}
_LIBRARIES = ("numpy", "lightgbm", "scikit-learn", "onnx", "onnxruntime", "onnxmltools", "arch")


class RegistryError(ValueError):
    """A registry operation that is not allowed or names something that does not exist."""


class ChecksumError(RegistryError):
    """Model bytes that do not hash to the recorded SHA-256 (or are missing)."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def library_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in _LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


@dataclass(frozen=True)
class ModelEntry:
    """A registry record as the API returns it."""

    sha256: str
    name: str
    version: int
    state: str
    path: str  # blob path relative to the registry root
    created_ns: int
    meta: dict

    @property
    def features_layout_version(self):
        return self.meta.get("features_layout_version")

    @property
    def training_data_hash(self):
        return self.meta.get("training_data_hash")

    @property
    def library_versions(self) -> dict:
        return self.meta.get("library_versions", {})

    @property
    def metrics(self) -> dict:
        return self.meta.get("metrics", {})

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "name": self.name, "version": self.version, "state": self.state,
                "path": self.path, "created_ns": self.created_ns, "meta": self.meta}


def _first(meta: dict, *keys):
    for k in keys:
        if meta.get(k) is not None:
            return meta[k]
    return None


class Registry:
    """The model registry under directory `root`.

    create=True (registering, training) makes the directory and its registry.db if absent;
    create=False (reading and managing what is there) refuses a root that is not a
    registry - no directory, or no registry.db when `store` is not given - and creates
    nothing. A registry.db that is not a readable SQLite database is a RegistryError naming
    the file and what is wrong with it, either way, and is left as it is."""

    def __init__(self, root, store=None, *, actor: str = "registry", create: bool = True):
        self.root = Path(root).expanduser()
        db = self.root / "registry.db"
        made = None  # the topmost directory this call creates, removed again if opening fails
        if not create:
            if not self.root.is_dir():
                what = "is not a directory" if self.root.exists() else "does not exist"
                raise RegistryError(f"no model registry at {self.root}: the directory {what}")
            if store is None and not db.exists():
                raise RegistryError(f"no model registry at {self.root}: {db} does not exist")
        elif not self.root.is_dir():
            made = self.root
            while not made.parent.exists():
                made = made.parent
            try:
                self.root.mkdir(parents=True)
            except OSError as e:
                raise RegistryError(f"cannot create the model registry directory {self.root}: "
                                    f"{e.strerror or e}") from None
        if store is None:
            from bot.store import StoreError, open_store

            try:
                store = open_store(f"sqlite:///{db}", create=create)
            except StoreError as e:
                if made is not None:
                    import shutil

                    shutil.rmtree(made, ignore_errors=True)
                raise RegistryError(f"model registry {self.root} cannot be opened: {e}") from None
            self._owns_store = True
        else:
            self._owns_store = False
        self.store = store
        self.actor = actor

    def close(self) -> None:
        if self._owns_store:
            self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- records ---------------------------------------------------------------------------
    def _entry(self, m) -> ModelEntry:
        return ModelEntry(sha256=m.sha256, name=m.name, version=int(m.version), state=m.stage, path=m.path,
                          created_ns=int(m.created_ns), meta=json.loads(m.metrics_json))

    def list(self) -> list[ModelEntry]:
        """Every record, by name and version."""
        return [self._entry(m) for m in self.store.models()]

    def get(self, sha: str) -> ModelEntry:
        """The record of `sha` (a full SHA-256, or a unique prefix of at least 8 hex digits)."""
        if not isinstance(sha, str) or len(sha) < 8:
            raise RegistryError(f"model id must be a SHA-256 hex string (or a prefix of >= 8 digits), got {sha!r}")
        hits = [e for e in self.list() if e.sha256.startswith(sha.lower())]
        if not hits:
            raise RegistryError(f"no model {sha} in the registry at {self.root}")
        if len(hits) > 1:
            raise RegistryError(f"model id {sha} is ambiguous: {', '.join(h.sha256[:16] for h in hits)}")
        return hits[0]

    def in_state(self, state: str) -> ModelEntry | None:
        if state not in STATES:
            raise RegistryError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        hits = [e for e in self.list() if e.state == state]
        return hits[-1] if hits else None

    def _put(self, e: ModelEntry, state: str) -> None:
        from bot.store.records import ModelRecord

        self.store.put_model(ModelRecord(model_id=e.sha256, name=e.name, version=e.version, path=e.path,
                                         sha256=e.sha256, stage=state, metrics_json=json.dumps(e.meta, sort_keys=True),
                                         created_ns=e.created_ns))

    def _audit(self, sha: str, old: str, new: str, reason: str, actor: str | None) -> None:
        from bot.store.records import AuditEntry

        self.store.audit(AuditEntry(ts_ns=time.time_ns(), actor=actor or self.actor, subject="model", key=sha,
                                    old_value=old, new_value=json.dumps({"state": new, "reason": reason})))

    def audit_log(self, sha: str | None = None) -> list:
        """The model audit entries (of one model if `sha` is given), oldest first."""
        return [a for a in self.store.audit_log() if a.subject == "model" and (sha is None or a.key == sha)]

    # -- blobs -----------------------------------------------------------------------------
    def blob_path(self, sha: str) -> Path:
        return self.root / "blobs" / sha[:2] / sha

    def register(self, model, meta: dict) -> ModelEntry:
        """Store model bytes (bytes, or a path to a file) with their metadata; state "registered".

        `meta` must be a JSON-serializable dict naming the features layout version
        ("features_layout_version" or "layout_version") and the training data hash
        ("training_data_hash" or "data_sha256"); "name" (default "model") and "metrics"
        (a dict) are optional; "library_versions" is filled in when absent. Registering bytes
        already present returns the existing record unchanged."""
        if isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
        else:
            try:
                data = Path(model).read_bytes()
            except OSError as e:
                raise RegistryError(f"cannot read model file {model}: {e}") from None
        if not data:
            raise RegistryError("model bytes are empty")
        if not isinstance(meta, dict):
            raise RegistryError(f"meta must be a dict, got {type(meta).__name__}")
        layout = _first(meta, "features_layout_version", "layout_version")
        data_hash = _first(meta, "training_data_hash", "data_sha256")
        if layout is None:
            raise RegistryError("meta must give the features layout version (features_layout_version or layout_version)")
        if data_hash is None:
            raise RegistryError("meta must give the training data hash (training_data_hash or data_sha256)")
        metrics = meta.get("metrics", {})
        if not isinstance(metrics, dict):
            raise RegistryError(f"meta.metrics must be a dict, got {type(metrics).__name__}")
        name = meta.get("name", "model")
        if not isinstance(name, str) or not name:
            raise RegistryError(f"meta.name must be a non-empty string, got {name!r}")
        full = {**meta, "features_layout_version": layout, "training_data_hash": data_hash, "metrics": metrics,
                "library_versions": meta.get("library_versions") or library_versions(), "size": len(data)}
        try:
            json.dumps(full)
        except (TypeError, ValueError) as e:
            raise RegistryError(f"meta must be JSON-serializable: {e}") from None
        sha = sha256_hex(data)
        for e in self.list():
            if e.sha256 == sha:
                return e
        path = self.blob_path(sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        version = 1 + max((e.version for e in self.list() if e.name == name), default=0)
        entry = ModelEntry(sha256=sha, name=name, version=version, state="registered",
                           path=str(path.relative_to(self.root)), created_ns=time.time_ns(), meta=full)
        self._put(entry, "registered")
        self._audit(sha, "", "registered", f"registered {name} v{version}", None)
        return entry

    def load_bytes(self, sha: str) -> bytes:
        """The model's bytes, re-hashed; ChecksumError if missing or not matching."""
        e = self.get(sha)
        path = self.root / e.path
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ChecksumError(f"model {e.sha256} ({e.name} v{e.version}): cannot read {path}: {err.strerror}") from None
        actual = sha256_hex(data)
        if actual != e.sha256:
            raise ChecksumError(f"model {e.sha256} ({e.name} v{e.version}) refused: the bytes at {path} hash to "
                                f"{actual}, not the recorded SHA-256")
        return data

    def verify(self, sha: str) -> bool:
        """True if the model's bytes match its checksum (False if not, or missing)."""
        try:
            self.load_bytes(sha)
            return True
        except ChecksumError:
            return False

    # -- lifecycle -------------------------------------------------------------------------
    def _move(self, e: ModelEntry, to_state: str, reason: str, actor: str | None) -> ModelEntry:
        self._put(e, to_state)
        self._audit(e.sha256, e.state, to_state, reason, actor)
        return self.get(e.sha256)

    def promote(self, sha: str, to_state: str, *, reason: str = "", actor: str | None = None) -> ModelEntry:
        """Move a model to `to_state` along an allowed transition (see the module docstring)."""
        e = self.get(sha)
        if to_state not in STATES:
            raise RegistryError(f"state must be one of {', '.join(STATES)}, got {to_state!r}")
        if to_state == e.state:
            raise RegistryError(f"model {e.sha256[:16]} is already {to_state}")
        if to_state not in ALLOWED[e.state]:
            allowed = ", ".join(sorted(ALLOWED[e.state])) or "none (terminal)"
            raise RegistryError(f"cannot move model {e.sha256[:16]} from {e.state} to {to_state}; allowed: {allowed}")
        if to_state in _VERIFY_BEFORE:
            self.load_bytes(e.sha256)  # raises ChecksumError: a corrupt model is never promoted
        reason = reason or f"promote to {to_state}"
        if to_state == "canary":
            cur = self.in_state("canary")
            if cur is not None:
                raise RegistryError(f"a canary is already running ({cur.sha256[:16]}); promote or retire it first")
        elif to_state == "active":
            cur = self.in_state("active")
            if cur is not None:
                old_fb = self.in_state("fallback")
                if old_fb is not None:
                    self._move(old_fb, "retired", f"replaced as fallback by {cur.sha256[:16]}", actor)
                self._move(cur, "fallback", f"superseded by {e.sha256[:16]}", actor)
        elif to_state == "fallback":
            cur = self.in_state("fallback")
            if cur is not None:
                self._move(cur, "retired", f"replaced as fallback by {e.sha256[:16]}", actor)
        return self._move(e, to_state, reason, actor)

    def rollback(self, reason: str, sha: str | None = None, *, actor: str | None = None) -> ModelEntry | None:
        """Take a misbehaving model out of service and return what now serves its role.

        `sha` names the model (default: the canary if one runs, else the active model). A
        canary is retired (the active model keeps serving; returns the active record or
        None). An active model is retired and the fallback becomes active (returned);
        without a fallback the rollback is refused and nothing changes."""
        if not reason:
            raise RegistryError("rollback needs a reason (it goes to the audit log)")
        target = self.get(sha) if sha is not None else (self.in_state("canary") or self.in_state("active"))
        if target is None:
            raise RegistryError("nothing to roll back: no canary and no active model")
        if target.state == "canary":
            self._move(target, "retired", f"rollback: {reason}", actor)
            return self.in_state("active")
        if target.state != "active":
            raise RegistryError(f"can roll back only the canary or the active model; {target.sha256[:16]} is {target.state}")
        fb = self.in_state("fallback")
        if fb is None:
            raise RegistryError(f"cannot roll back {target.sha256[:16]}: no fallback model")
        self._move(target, "retired", f"rollback: {reason}", actor)
        return self._move(fb, "active", f"rollback of {target.sha256[:16]}: {reason}", actor)

    def serving(self, *, actor: str | None = None) -> tuple[ModelEntry, bytes]:
        """(record, verified bytes) of the model to serve: the active one, or the fallback
        when the active model's bytes are refused (missing or wrong checksum) - the refusal
        is audited and the active model is rolled back. Raises ChecksumError when nothing
        verifiable can serve."""
        active = self.in_state("active")
        if active is None:
            fb = self.in_state("fallback")
            if fb is None:
                raise RegistryError("no active or fallback model to serve")
            return fb, self.load_bytes(fb.sha256)
        try:
            return active, self.load_bytes(active.sha256)
        except ChecksumError as err:
            refusal = str(err)
        fb = self.in_state("fallback")
        if fb is None:
            self._audit(active.sha256, "active", "active", f"refused: {refusal}; no fallback", actor)
            raise ChecksumError(f"{refusal}; and there is no fallback model to serve instead")
        fb_bytes = self.load_bytes(fb.sha256)  # a corrupt fallback raises too
        new_active = self.rollback(f"checksum refused: {refusal}", active.sha256, actor=actor)
        return new_active, fb_bytes


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


class CanaryRouter:
    """Sends `fraction` of decisions, and of capital, to the canary.

    ``route(decision_id)`` is a pure function of (seed, decision_id): splitmix64 of both
    gives a uniform number u in [0, 1) and the decision goes to the canary iff u < fraction,
    so a replay routes the same way and the share converges to `fraction` (binomially)."""

    def __init__(self, fraction: float, seed: int = 0):
        if not isinstance(fraction, (int, float)) or not (0.0 <= fraction <= 1.0):
            raise ValueError(f"canary fraction must be in [0, 1], got {fraction!r}")
        self.fraction = float(fraction)
        self.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self._threshold = int(self.fraction * 2.0**53)

    def route(self, decision_id: int) -> str:
        """ "canary" or "active" for this decision."""
        u53 = _splitmix64(self.seed ^ _splitmix64(int(decision_id) & 0xFFFFFFFFFFFFFFFF)) >> 11
        return "canary" if u53 < self._threshold else "active"

    def split_capital(self, capital: float) -> tuple[float, float]:
        """(active capital, canary capital) for a total `capital` >= 0."""
        if not capital >= 0:
            raise ValueError(f"capital must be >= 0, got {capital!r}")
        canary = capital * self.fraction
        return capital - canary, canary
