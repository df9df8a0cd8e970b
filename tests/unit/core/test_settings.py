from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from wabridge.settings import ConfigError, load_settings, parse_duration

REQUIRED = {
    "META_ACCESS_TOKEN": "EAAG-very-secret-1",
    "META_APP_SECRET": "secret",
    "META_VERIFY_TOKEN": "verify",
    "META_PHONE_NUMBER_ID": "123",
    "SLACK_BOT_TOKEN": "xoxb-1",
    "SLACK_SIGNING_SECRET": "signing",
    "SLACK_CHANNEL_ID": "C1",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_defaults_follow_the_contract(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./wabridge.db"
    assert settings.meta_api_base == "https://graph.facebook.com"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.warn_before == (timedelta(hours=2), timedelta(minutes=30))
    assert settings.scan_interval == timedelta(seconds=60)
    assert settings.note_prefix == "//"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.wabridge_api_token is None
    assert "very-secret" not in repr(settings)  # secrets never print


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_required_value_is_named(env: pytest.MonkeyPatch, name: str) -> None:
    env.delenv(name)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert name in str(error.value)


def test_signing_secret_not_needed_in_socket_mode(env: pytest.MonkeyPatch) -> None:
    env.delenv("SLACK_SIGNING_SECRET")
    env.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load_settings().slack_signing_secret is None


@pytest.mark.parametrize(
    ("name", "value"),
    [("PORT", "eighty"), ("WABRIDGE_SCAN_INTERVAL", "5 parsecs"), ("WABRIDGE_LOG_FORMAT", "xml")],
)
def test_malformed_values_are_named(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(name)


def test_dotenv_file_is_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.delenv("SLACK_CHANNEL_ID")
    (tmp_path / ".env").write_text("SLACK_CHANNEL_ID=CFROMFILE\nWABRIDGE_WARN_BEFORE=30m,3h\n")
    settings = load_settings()
    assert settings.slack_channel_id == "CFROMFILE"
    assert settings.warn_before == (timedelta(hours=3), timedelta(minutes=30))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
    ],
)
def test_database_urls_get_our_async_drivers(
    env: pytest.MonkeyPatch, given: str, used: str
) -> None:
    env.setenv("DATABASE_URL", given)
    assert load_settings().database_url == used


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url"])
def test_unsupported_database_urls_are_refused(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith("DATABASE_URL:")
