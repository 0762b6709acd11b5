"""`bot4 models list|show|promote|rollback|verify` over a registry built through the API."""

import json

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.ml.registry import Registry

META = {"features_layout_version": 2, "training_data_hash": "ef" * 32, "metrics": {"auc": 0.58, "brier": 0.241},
        "name": "lgbm"}


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "models"
    with Registry(r) as reg:
        a = reg.register(b"A" * 1000, META)
        b = reg.register(b"B" * 1000, META)
        reg.promote(a.sha256, "active")
    return str(r), a.sha256, b.sha256


def run(*args, env=None):
    return CliRunner().invoke(main, ["models", *args], env=env or {}, catch_exceptions=False)


def test_list_and_show(root):
    r, a, b = root
    res = run("list", "--root", r)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert a[:16] in res.output and b[:16] in res.output and "auc=0.58" in res.output
    assert any(a[:16] in ln and "active" in ln for ln in lines)
    assert any(b[:16] in ln and "registered" in ln for ln in lines)
    js = [json.loads(ln) for ln in run("list", "--root", r, "--json").output.splitlines()]
    assert {j["sha256"]: j["state"] for j in js} == {a: "active", b: "registered"}
    res = run("show", a[:12], "--root", r)
    out = json.loads(res.output)
    assert out["sha256"] == a and out["checksum_ok"] is True and out["meta"]["training_data_hash"] == "ef" * 32
    assert [x["state"] for x in out["audit"]] == ["registered", "active"]
    # root from the environment ([ml] registry_dir)
    assert a[:16] in run("list", env={"BOT4_ML_REGISTRY_DIR": r}).output


def test_promote_rollback_verify(root, tmp_path):
    r, a, b = root
    res = run("promote", b, "active", "--root", r, "--reason", "better auc")
    assert res.exit_code == 0 and "registered -> active" in res.output
    res = run("promote", b, "shadow", "--root", r)
    assert res.exit_code == 1 and "cannot move model" in res.output and "from active to shadow" in res.output
    assert run("verify", "--root", r).exit_code == 0
    res = run("rollback", "--root", r, "--reason", "manual test")
    assert res.exit_code == 0 and f"serving: {a[:16]}" in res.output
    with Registry(r) as reg:
        assert reg.get(b).state == "retired" and reg.get(a).state == "active"
        assert json.loads(reg.audit_log(b)[-1].new_value)["reason"] == "rollback: manual test"
        assert reg.audit_log(b)[-1].actor == "cli"
        blob = reg.root / reg.get(a).path
    blob.write_bytes(b"A" * 999 + b"Z")
    res = run("verify", "--root", r)
    assert res.exit_code == 1 and "REFUSED" in res.output and "1 model(s) failed verification" in res.output
    res = run("verify", a, "--root", r)
    assert res.exit_code == 1 and "hash to" in res.output
    res = run("show", "0123456789", "--root", r)
    assert res.exit_code == 1 and "no model 0123456789" in res.output
    res = run("rollback", "--root", r, "--reason", "x")
    assert res.exit_code == 1 and "no fallback" in res.output
    res = run("promote", a, "production", "--root", r)
    assert res.exit_code == 2


def test_empty_registry(tmp_path):
    Registry(tmp_path / "empty").close()  # a registry with no models yet
    res = run("list", "--root", str(tmp_path / "empty"))
    assert res.exit_code == 0 and "no models registered" in res.output


@pytest.mark.parametrize("args", [["list"], ["show", "0123456789"], ["verify"], ["promote", "0123456789", "active"],
                                  ["rollback", "--reason", "x"]])
def test_commands_refuse_a_root_that_is_not_a_registry(tmp_path, args):
    """Only registering creates a registry; a mistyped --root is an error that creates nothing."""
    missing = tmp_path / "no" / "such" / "models"
    res = run(*args, "--root", str(missing))
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert res.output.strip() == f"bot4 models: no model registry at {missing}: the directory does not exist"
    assert not (tmp_path / "no").exists()
    plain = tmp_path / "plain"
    plain.mkdir()
    res = run(*args, "--root", str(plain))
    assert res.exit_code == 1
    assert res.output.strip() == f"bot4 models: no model registry at {plain}: {plain / 'registry.db'} does not exist"
    assert list(plain.iterdir()) == []
