import pytest

from sluice.settings import SettingsError, load_settings, masked


def test_a_bad_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_API_PORT", "eighty")
    with pytest.raises(SettingsError, match="SLUICE_API_PORT"):
        load_settings()


def test_soft_time_limit_must_be_below_the_hard_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_TASK_TIME_LIMIT", "10")
    monkeypatch.setenv("SLUICE_TASK_SOFT_TIME_LIMIT", "10")
    with pytest.raises(SettingsError, match="SLUICE_TASK_SOFT_TIME_LIMIT"):
        load_settings()


def test_api_keys_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_API_KEYS", " first, second ,")
    assert load_settings().api_key_values() == ["first", "second"]


def test_masked_configuration_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_API_KEYS", "topsecret1,topsecret2")
    monkeypatch.setenv("SLUICE_MONGODB_URL", "mongodb://app:hunter2@db:27017/?replicaSet=rs0")
    monkeypatch.setenv("SLUICE_BROKER_URL", "redis://:brokerpw@redis:6379/0")
    monkeypatch.setenv("SLUICE_LLM_API_KEY", "sk-llm-secret")
    shown = str(masked(load_settings()))
    for secret in ("topsecret1", "topsecret2", "hunter2", "brokerpw", "sk-llm-secret"):
        assert secret not in shown
    assert "mongodb://app:***@db:27017" in shown
    assert "redis://:***@redis:6379/0" in shown
