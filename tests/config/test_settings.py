"""Settings sources: config.json, then APPLIANCE_* overriding it; unknown keys are errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance.config import CONFIG_FILE, Settings, load_settings, save_settings
from appliance.errors import ConfigurationError


def _home(tmp_path: Path, **changes: object) -> Path:
    save_settings(Settings(home=tmp_path))
    if changes:
        path = tmp_path / CONFIG_FILE
        saved = json.loads(path.read_text("utf-8"))
        saved.update(changes)
        path.write_text(json.dumps(saved), "utf-8")
    return tmp_path


def test_saved_settings_round_trip(tmp_path: Path) -> None:
    home = _home(tmp_path, policy_cache_size=12, trusted_proxies=["10.0.0.0/8"])
    settings = load_settings(home)
    assert settings.home == tmp_path.resolve()
    assert (settings.policy_cache_size, settings.trusted_proxies) == (12, ["10.0.0.0/8"])


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, policy_cache_size=12)
    monkeypatch.setenv("APPLIANCE_POLICY_CACHE_SIZE", "7")
    monkeypatch.setenv("APPLIANCE_TOKEN", "apl_not-a-setting")  # the CLI's, ignored here
    assert load_settings(home).policy_cache_size == 7


def test_home_argument_wins_over_the_file_and_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, home="/somewhere/else")
    monkeypatch.setenv("APPLIANCE_HOME", "/elsewhere")
    assert load_settings(home).home == tmp_path.resolve()


def test_a_typo_in_the_config_file_names_the_key(tmp_path: Path) -> None:
    home = _home(tmp_path, polcy_cache_size=12)
    with pytest.raises(ConfigurationError) as raised:
        load_settings(home)
    assert "unknown setting 'polcy_cache_size'" in raised.value.message
    assert str(tmp_path / CONFIG_FILE) in raised.value.message


def test_a_typo_inside_a_nested_setting_names_the_path(tmp_path: Path) -> None:
    path = _home(tmp_path) / CONFIG_FILE
    saved = json.loads(path.read_text("utf-8"))
    saved["kdf"]["salt"] = "x"
    path.write_text(json.dumps(saved), "utf-8")
    with pytest.raises(ConfigurationError, match=r"unknown setting 'kdf\.salt'"):
        load_settings(tmp_path)


def test_a_bad_value_names_the_key_and_the_problem(tmp_path: Path) -> None:
    home = _home(tmp_path, metrics_port=70000)
    with pytest.raises(ConfigurationError, match=r"setting 'metrics_port': Input should be less"):
        load_settings(home)


def test_a_config_file_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    (tmp_path / CONFIG_FILE).write_text("[1, 2]", "utf-8")
    with pytest.raises(ConfigurationError, match="expected a JSON object"):
        load_settings(tmp_path)
