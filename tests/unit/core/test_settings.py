from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from wabridge.logs import configure_logging
from wabridge.settings import (
    BEYOND_CONTRACT,
    NOT_YET_USED,
    ConfigError,
    Settings,
    load_settings,
    parse_duration,
    parse_rate,
    unused_settings,
)

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
    assert settings.retry_for == timedelta(hours=24)
    assert settings.retention == timedelta(days=30)
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
    [
        ("PORT", "eighty"),
        ("WABRIDGE_SCAN_INTERVAL", "5 parsecs"),
        ("WABRIDGE_LOG_FORMAT", "xml"),
        ("WABRIDGE_REPLY_SETTLE", "sometimes"),
    ],
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


def test_retry_for_and_retention_are_read(env: pytest.MonkeyPatch) -> None:
    env.setenv("WABRIDGE_RETRY_FOR", "90m")
    env.setenv("WABRIDGE_RETENTION", "7d")
    settings = load_settings()
    assert (settings.retry_for, settings.retention) == (timedelta(minutes=90), timedelta(days=7))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WABRIDGE_SCAN_INTERVAL", "0s"),
        ("WABRIDGE_RETRY_FOR", "0h"),
        ("WABRIDGE_RETENTION", "0d"),
        ("WABRIDGE_RETENTION", "-1d"),
        ("WABRIDGE_RETRY_FOR", "99999999999d"),
        ("WABRIDGE_WARN_BEFORE", "2h,0m"),
        ("WABRIDGE_WARN_BEFORE", "24h"),
        ("WABRIDGE_WARN_BEFORE", "30m,1d"),
        ("WABRIDGE_WARN_BEFORE", ","),
    ],
)
def test_durations_must_be_positive_and_warnings_inside_the_window(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_zero_is_refused_in_words(env: pytest.MonkeyPatch) -> None:
    env.setenv("WABRIDGE_SCAN_INTERVAL", "0s")
    with pytest.raises(ConfigError, match=r"^WABRIDGE_SCAN_INTERVAL: must be longer than zero"):
        load_settings()


def test_warnings_are_sorted_latest_first_and_each_mark_once(env: pytest.MonkeyPatch) -> None:
    env.setenv("WABRIDGE_WARN_BEFORE", "30m, 23h,30m")
    assert load_settings().warn_before == (timedelta(hours=23), timedelta(minutes=30))


# --- an empty value means unset -------------------------------------------------------------


Put = Callable[..., None]


@pytest.fixture(params=["environment", ".env"])
def put(request: pytest.FixtureRequest, env: pytest.MonkeyPatch, tmp_path: Path) -> Put:
    """Sets variables in the environment or in ``.env``, as the parameter says."""

    def put(**values: str) -> None:
        for name, value in values.items():
            if request.param == "environment":
                env.setenv(name, value)
            else:
                env.delenv(name, raising=False)
                with (tmp_path / ".env").open("a") as dotenv:
                    dotenv.write(f"{name}={value}\n")

    return put


def test_empty_optional_values_take_their_defaults(put: Put, env: pytest.MonkeyPatch) -> None:
    empty = [
        "DATABASE_URL", "META_API_BASE", "META_API_VERSION", "META_WABA_ID", "SLACK_APP_TOKEN",
        "SLACK_API_URL", "WABRIDGE_API_TOKEN", "WABRIDGE_WARN_BEFORE", "WABRIDGE_SCAN_INTERVAL",
        "WABRIDGE_NOTE_PREFIX", "WABRIDGE_LOG_FORMAT", "WABRIDGE_RETRY_FOR", "WABRIDGE_RETENTION",
        "WABRIDGE_REPLY_SETTLE", "HOST", "PORT",
    ]  # fmt: skip
    defaults = load_settings()
    put(**dict.fromkeys(empty, ""))
    settings = load_settings()
    assert settings.model_dump() == defaults.model_dump()  # as if never written
    assert settings.model_fields_set == defaults.model_fields_set
    assert settings.slack_app_token is None  # so serve stays in HTTP mode


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "META_APP_SECRET", "SLACK_CHANNEL_ID"])
def test_an_empty_required_value_is_reported_as_not_set(
    put: Put, env: pytest.MonkeyPatch, name: str
) -> None:
    env.delenv(name)
    put(**{name: ""})
    with pytest.raises(ConfigError, match=f"^{name} is required but not set$"):
        load_settings()


def test_an_empty_signing_secret_is_missing_in_http_mode(put: Put) -> None:
    put(SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="")
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET is required"):
        load_settings()


def test_an_empty_environment_value_lets_dotenv_speak(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("SLACK_CHANNEL_ID=CFROMFILE\n")
    env.setenv("SLACK_CHANNEL_ID", "")
    assert load_settings().slack_channel_id == "CFROMFILE"


# --- variables read but not used yet ----------------------------------------------------------


def test_not_yet_used_names_are_settings() -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert set(NOT_YET_USED) <= aliases


def test_unused_settings_are_quiet_by_default(env: pytest.MonkeyPatch) -> None:
    assert unused_settings(load_settings()) == []


def test_unused_settings_ignore_empty_values(put: Put) -> None:
    put(**dict.fromkeys(NOT_YET_USED, ""))
    assert unused_settings(load_settings()) == []


def test_each_set_unused_variable_gives_one_line(put: Put, env: pytest.MonkeyPatch) -> None:
    # Every variable is in use today; pretend one is not.
    env.setattr("wabridge.settings.NOT_YET_USED", {"WABRIDGE_RETENTION": "the retention sweep"})
    put(WABRIDGE_WARN_BEFORE="1h", WABRIDGE_RETENTION="7d", META_WABA_ID="2000")
    assert unused_settings(load_settings()) == [
        "WABRIDGE_RETENTION is set but has no effect yet: "
        "the retention sweep is not built in this version",
    ]


def test_retention_is_in_use(put: Put) -> None:
    put(WABRIDGE_RETENTION="7d")
    assert unused_settings(load_settings()) == []


def test_used_variables_give_no_warning(env: pytest.MonkeyPatch) -> None:
    env.setenv("WABRIDGE_RETRY_FOR", "2h")
    env.setenv("PORT", "9000")
    assert unused_settings(load_settings()) == []


# --- secrets ------------------------------------------------------------------------------------


def test_every_secret_is_handed_to_the_scrubber(env: pytest.MonkeyPatch) -> None:
    env.setenv("SLACK_APP_TOKEN", "xapp-1-abc")
    env.setenv("WABRIDGE_API_TOKEN", "api-token-1")
    values = load_settings().secret_values()
    names = ["META_ACCESS_TOKEN", "META_APP_SECRET", "META_VERIFY_TOKEN", "SLACK_BOT_TOKEN"]
    names.append("SLACK_SIGNING_SECRET")
    assert {REQUIRED[name] for name in names} | {"xapp-1-abc", "api-token-1"} <= set(values)
    assert "" not in values


def test_unset_secrets_and_a_url_without_password_add_nothing(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "postgresql://wabridge@db/wabridge")
    assert len(load_settings().secret_values()) == 5


DB_PASSWORD = "s3cr@t/+ ü"
DB_URL = "postgresql+psycopg://wabridge:s3cr%40t%2F%2B%20%C3%BC@db.internal:5432/wabridge"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_the_database_password_stays_out_of_repr(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", DB_URL)
    settings = load_settings()
    assert _shows_no_password(repr(settings)) and _shows_no_password(str(settings))
    assert DB_PASSWORD in settings.secret_values()
    assert settings.database_url.startswith("postgresql+psycopg://wabridge:")  # still a str


def _shows_no_password(text: str) -> bool:
    return not any(form in text for form in ("s3cr", "wabridge:", "%40t"))


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize(
    "given",
    [
        DB_URL,
        "postgresql://wabridge:Zs3cret@db/wabridge",
        "postgresql://wabridge:pw@db/wabridge?password=Qs3cret%26",
    ],
    ids=["encoded", "plain", "in-query"],
)
def test_the_database_password_never_reaches_a_log_line(
    env: pytest.MonkeyPatch,
    restore_root: None,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    given: str,
) -> None:
    env.setenv("DATABASE_URL", given)
    settings = load_settings()
    configure_logging(fmt=fmt, secrets=settings.secret_values())
    log = logging.getLogger("wabridge.test")
    log.warning("connecting to %s", settings.database_url, extra={"url": given})
    log.warning("as configured: %s", given)
    out = capsys.readouterr().err
    assert "s3cr" not in out and "%40t" not in out and "pw@" not in out
    assert out.count("@db") == 3  # the rest of the URL is still there to read
    if fmt == "json":
        assert all(json.loads(line) for line in out.splitlines())


def test_a_malformed_database_url_is_not_echoed(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", "wabridge:s3cret@db/wabridge")  # the scheme forgotten
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith("DATABASE_URL:") and "s3cret" not in str(error.value)


# --- the contract -----------------------------------------------------------------------------


def test_every_contract_variable_is_a_setting(shared_dir: Path) -> None:
    contract = (shared_dir / "CONTRACT.md").read_text()
    section = contract.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = {
        name
        for row in section.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])
    }
    aliases = set()
    for field in Settings.model_fields.values():
        aliases.add(field.alias)
        choices = getattr(field.validation_alias, "choices", [])
        aliases.update(choice for choice in choices if isinstance(choice, str))
    assert "WABRIDGE_RETENTION" in names and names <= aliases


# --- pacing (issue 8) -----------------------------------------------------------------------


def test_pacing_defaults_are_near_slacks_and_metas_rates(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert (settings.slack_post_rate, settings.slack_post_burst) == (1.0, 8)
    per_minute = [round(rate * 60, 6) for rate in settings.slack_tier_rates]
    assert per_minute == [1, 20, 50, 100]
    assert settings.meta_rate == 80.0
    assert settings.meta_pair_rate == pytest.approx(1 / 6)
    assert settings.meta_pair_burst == 20


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("1/s", 1.0), ("50/m", 50 / 60), ("900/h", 0.25), ("2.5/s", 2.5), ("off", 0.0), ("0", 0.0)],
)
def test_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


def test_pacing_is_read_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("WABRIDGE_SLACK_POST_RATE", "2/s")
    env.setenv("WABRIDGE_SLACK_POST_BURST", "3")
    env.setenv("WABRIDGE_SLACK_TIER_RATES", "2/m, 40/m, 100/m, off")
    env.setenv("WABRIDGE_META_RATE", "1000/s")
    env.setenv("WABRIDGE_META_PAIR_RATE", "20/m")
    env.setenv("WABRIDGE_META_PAIR_BURST", "45")
    settings = load_settings()
    assert (settings.slack_post_rate, settings.slack_post_burst) == (2.0, 3)
    assert settings.slack_tier_rates == pytest.approx((2 / 60, 40 / 60, 100 / 60, 0.0))
    assert settings.meta_rate == 1000.0
    assert (settings.meta_pair_rate, settings.meta_pair_burst) == (pytest.approx(1 / 3), 45)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WABRIDGE_SLACK_POST_RATE", "fast"),
        ("WABRIDGE_SLACK_POST_RATE", "-1/s"),
        ("WABRIDGE_SLACK_TIER_RATES", "1/m,20/m,50/m"),
        ("WABRIDGE_META_RATE", "80 per second"),
        ("WABRIDGE_META_PAIR_BURST", "0"),
    ],
)
def test_bad_pacing_values_are_named(env: pytest.MonkeyPatch, name: str, value: str) -> None:
    env.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith(name)


def test_variables_beyond_the_contract_are_settings() -> None:
    aliases = {field.alias for field in Settings.model_fields.values()}
    assert aliases >= BEYOND_CONTRACT
