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


def test_masked_configuration_hides_fallback_multi_host_and_webhook_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLUICE_LLM_FALLBACK_URLS",
                       "http://u:fallbackpw@a:8000/v1, http://b:8000/v1?api_key=fallbackkey")
    monkeypatch.setenv("SLUICE_MONGODB_URL",
                       "mongodb://app:multipw@h1:27017,h2:27017/x?replicaSet=rs0&authSource=admin")
    monkeypatch.setenv("SLUICE_SINK_WEBHOOK_URL", "https://hooks.example.com/T0/hooktoken?sig=s1")
    shown = str(masked(load_settings()))
    for secret in ("fallbackpw", "fallbackkey", "multipw", "hooktoken", "s1"):
        assert secret not in shown
    assert "mongodb://app:***@h1:27017,h2:27017/x?replicaSet=rs0&authSource=admin" in shown
    assert "https://hooks.example.com/***" in shown


def test_an_unknown_sink_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_SINKS", "records, kafka")
    with pytest.raises(SettingsError, match=r"SLUICE_SINKS: .*unknown sink\(s\) \['kafka'\]"):
        load_settings()


def test_known_sinks_load_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_SINKS", "records, jsonl,webhook")
    assert load_settings().sinks == "records, jsonl,webhook"


def test_a_fallback_that_is_not_a_url_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_LLM_FALLBACK_URLS", "http://a:8080/v1, localhost:8081/v1")
    with pytest.raises(SettingsError, match=r"SLUICE_LLM_FALLBACK_URLS: .*localhost:8081/v1"):
        load_settings()


def test_fallback_urls_load_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.settings.llm import fallback_urls

    monkeypatch.setenv("SLUICE_LLM_FALLBACK_URLS", "http://a:8080/v1, https://b/v1,")
    assert fallback_urls(load_settings().llm_fallback_urls) == ["http://a:8080/v1",
                                                                  "https://b/v1"]


def test_an_unknown_structured_mode_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_LLM_STRUCTURED_MODE", "json-schema")
    with pytest.raises(SettingsError, match="SLUICE_LLM_STRUCTURED_MODE"):
        load_settings()


def test_a_structured_mode_loads_as_the_enum(monkeypatch: pytest.MonkeyPatch) -> None:
    from sluice.settings import StructuredMode

    monkeypatch.setenv("SLUICE_LLM_STRUCTURED_MODE", "json_object_schema")
    assert load_settings().llm_structured_mode is StructuredMode.JSON_OBJECT_SCHEMA
    monkeypatch.delenv("SLUICE_LLM_STRUCTURED_MODE")
    assert load_settings().llm_structured_mode == "auto"


@pytest.mark.parametrize("cron", ["0 2 * *", "61 2 * * *", "0 2 * * someday"])
def test_a_schedule_with_a_bad_cron_stops_start_up(
    monkeypatch: pytest.MonkeyPatch, cron: str
) -> None:
    entries = f'{{"transform": "re-embed"}}, {{"transform": "re-embed", "cron": "{cron}"}}'
    monkeypatch.setenv("SLUICE_BATCH_SCHEDULE", f"[{entries}]")
    with pytest.raises(SettingsError, match=r"SLUICE_BATCH_SCHEDULE\[1\]\.cron: .*cron"):
        load_settings()


def test_a_good_schedule_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_BATCH_SCHEDULE",
                       '[{"transform": "re-embed", "cron": "*/15 1-5 * * mon-fri"}]')
    (entry,) = load_settings().batch_schedule
    assert (entry.transform, entry.cron) == ("re-embed", "*/15 1-5 * * mon-fri")


def test_every_section_is_a_flat_attribute_of_the_settings() -> None:
    settings = load_settings(llm_model="m", crawl_burst=3, dashboard_port=9000, sinks="jsonl")
    assert (settings.llm_model, settings.crawl_burst, settings.dashboard_port) == ("m", 3, 9000)
    assert settings.sinks == "jsonl" and settings.sqlite_path.name == "sluice.db"


def test_every_sections_comma_separated_lists_are_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_PLUGINS", "a.kinds, b.kinds")
    monkeypatch.setenv("SLUICE_ADMIN_API_KEYS", "x,y")
    monkeypatch.setenv("SLUICE_CRAWL_ALLOWED_NETWORKS", "10.0.0.0/8, 127.0.0.1")
    monkeypatch.setenv("SLUICE_CDC_COLLECTIONS", "documents,pages")
    settings = load_settings()
    assert settings.plugins == ["a.kinds", "b.kinds"]
    assert settings.admin_key_values() == ["x", "y"]
    assert settings.crawl_allowed_networks == ["10.0.0.0/8", "127.0.0.1"]
    assert settings.cdc_collections == ["documents", "pages"]
