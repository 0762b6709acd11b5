"""The typed configuration: defaults, TOML, environment overrides, and errors naming the key."""

from pathlib import Path

import pytest

from bot.config import Config, ConfigError, as_dict, load

ROOT = Path(__file__).resolve().parent.parent


def test_embedded_default_equals_config_default_toml():
    assert as_dict(load(ROOT / "config" / "default.toml", env={})) == as_dict(Config())
    assert load(env={}) == Config()


def test_file_then_environment(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text('[sim]\nseed = 11\nregime = "bull"\n')
    cfg = load(p, env={"BOT4_SIM_SEED": "12"})
    assert cfg.sim.seed == 12 and cfg.sim.regime == "bull"


@pytest.mark.parametrize("text,env,match", [
    ('[sim]\nseeed = 1\n', {}, r"unknown key\(s\) in \[sim\]: seeed"),
    ('[simm]\nseed = 1\n', {}, r"unknown config section\(s\): simm"),
    ('[sim]\nseed = "x"\n', {}, "sim.seed must be an integer"),
    ('[sim]\nseed = true\n', {}, "sim.seed must be an integer"),
    ('', {"BOT4_SIM_SEED": "abc"}, "sim.seed must be an integer, got 'abc'"),
    ('[sim\n', {}, "not valid TOML"),
])
def test_bad_config_names_the_key(tmp_path, text, env, match):
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load(p, env=env)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml", env={})
