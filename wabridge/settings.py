"""Settings: every environment variable of CONTRACT.md, read once, validated, passed down."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Final, Literal
from urllib.parse import quote, quote_plus

from pydantic import (
    AfterValidator,
    AliasChoices,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "BEYOND_CONTRACT",
    "NOT_YET_USED",
    "ConfigError",
    "Settings",
    "load_settings",
    "parse_duration",
    "parse_rate",
    "unused_settings",
]

#: Variables the contract defines whose feature is not built yet; shrink it as features land.
NOT_YET_USED: Final[Mapping[str, str]] = {}

#: Variables beyond CONTRACT.md's table, added by later issues (issue 8: pacing).
BEYOND_CONTRACT: Final = frozenset(
    {
        "WABRIDGE_SLACK_POST_RATE",
        "WABRIDGE_SLACK_POST_BURST",
        "WABRIDGE_SLACK_TIER_RATES",
        "WABRIDGE_META_RATE",
        "WABRIDGE_META_PAIR_RATE",
        "WABRIDGE_META_PAIR_BURST",
        "WABRIDGE_REPLY_SETTLE",
    }
)

#: A customer-service window lasts 24 hours; a warning this early or earlier would never fire.
_WINDOW = timedelta(hours=24)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``30m``, ``2h``, ``1d`` -> timedelta."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration like 90s, 30m, 2h or 1d")
    amount, unit = match.groups()
    try:
        return timedelta(**{_UNITS[unit]: int(amount)})
    except OverflowError:
        # timedelta stops at 999999999 days; without this the user would get a traceback.
        raise ValueError(f"{value!r} is too long a duration") from None


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([smh])\s*$")
_PER = {"s": 1, "m": 60, "h": 3600}


def parse_rate(value: Any) -> float:
    """``1/s``, ``50/m``, ``900/h`` -> calls per second; ``off`` (or ``0``) -> 0.0, unpaced."""
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"{value!r} is not a rate like 1/s, 50/m or off")
        return float(value)
    text = str(value).strip().lower()
    if text in ("off", "0"):
        return 0.0
    match = _RATE.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a rate like 1/s, 50/m or off")
    count, unit = match.groups()
    return float(count) / _PER[unit]


def _parse_tier_rates(value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, tuple | list) else str(value).split(",")
    rates = tuple(parse_rate(v) for v in values)
    if len(rates) != 4:
        raise ValueError("give Slack's four tiers, e.g. 1/m,20/m,50/m,100/m")
    return rates


def _written(value: timedelta) -> str:
    """A duration as the user would write it: ``86400s`` reads back as ``1d``."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _positive(value: timedelta) -> timedelta:
    # A zero interval would make a loop spin and a zero retention would purge everything.
    if value <= timedelta(0):
        raise ValueError(
            f"must be longer than zero, e.g. 90s, 30m, 2h or 1d (got {_written(value)})"
        )
    return value


def _parse_durations(value: Any) -> tuple[timedelta, ...]:
    values = value if isinstance(value, tuple | list) else str(value).split(",")
    parts = [v for v in values if isinstance(v, timedelta) or str(v).strip()]
    if not parts:
        raise ValueError("give at least one duration, e.g. 2h,30m")
    marks = {_positive(parse_duration(p)) for p in parts}
    late = [mark for mark in marks if mark >= _WINDOW]
    if late:
        raise ValueError(
            "each warning must come less than 24h before the window closes "
            f"(got {_written(max(late))})"
        )
    # Latest first, each mark once: a repeated mark would still post one warning.
    return tuple(sorted(marks, reverse=True))


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_positive)]
#: Calls per second, written ``1/s``, ``50/m`` or ``off``.
PerSecond = Annotated[float, BeforeValidator(parse_rate)]
TierRates = Annotated[tuple[float, ...], NoDecode, BeforeValidator(_parse_tier_rates)]
Durations = Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_parse_durations)]


class ConfigError(Exception):
    """Bad configuration, worded as the one line an operator needs."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # The shipped .env.example leaves optional values empty: empty means unset, in the
        # environment and in .env alike, so the documented default applies.
        env_ignore_empty=True,
    )

    # repr=False: the URL may carry a password, and settings end up in reprs and tracebacks.
    database_url: str = Field("sqlite+aiosqlite:///./wabridge.db", alias="DATABASE_URL", repr=False)
    meta_api_base: str = Field("https://graph.facebook.com", alias="META_API_BASE")
    meta_api_version: str = Field("v23.0", alias="META_API_VERSION", pattern=r"^v\d+\.\d+$")
    meta_access_token: SecretStr = Field(alias="META_ACCESS_TOKEN", min_length=1)
    meta_app_secret: SecretStr = Field(alias="META_APP_SECRET", min_length=1)
    meta_verify_token: SecretStr = Field(alias="META_VERIFY_TOKEN", min_length=1)
    meta_phone_number_id: str = Field(alias="META_PHONE_NUMBER_ID", min_length=1)
    meta_waba_id: str | None = Field(None, alias="META_WABA_ID")
    slack_bot_token: SecretStr = Field(alias="SLACK_BOT_TOKEN", min_length=1)
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_channel_id: str = Field(alias="SLACK_CHANNEL_ID", min_length=1)
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    wabridge_api_token: SecretStr | None = Field(None, alias="WABRIDGE_API_TOKEN")
    warn_before: Durations = Field(
        default=(timedelta(hours=2), timedelta(minutes=30)), alias="WABRIDGE_WARN_BEFORE"
    )
    scan_interval: Duration = Field(timedelta(seconds=60), alias="WABRIDGE_SCAN_INTERVAL")
    retry_for: Duration = Field(timedelta(hours=24), alias="WABRIDGE_RETRY_FOR")
    retention: Duration = Field(timedelta(days=30), alias="WABRIDGE_RETENTION")
    note_prefix: str = Field("//", alias="WABRIDGE_NOTE_PREFIX", min_length=1)
    log_format: Literal["text", "json"] = Field("text", alias="WABRIDGE_LOG_FORMAT")
    # Pacing (issue 8): near Slack's and Meta's documented rates; each process paces itself.
    slack_post_rate: PerSecond = Field(1.0, alias="WABRIDGE_SLACK_POST_RATE")
    slack_post_burst: int = Field(8, alias="WABRIDGE_SLACK_POST_BURST", ge=1)
    slack_tier_rates: TierRates = Field(
        (1 / 60, 20 / 60, 50 / 60, 100 / 60), alias="WABRIDGE_SLACK_TIER_RATES"
    )
    meta_rate: PerSecond = Field(80.0, alias="WABRIDGE_META_RATE")
    meta_pair_rate: PerSecond = Field(1 / 6, alias="WABRIDGE_META_PAIR_RATE")
    meta_pair_burst: int = Field(20, alias="WABRIDGE_META_PAIR_BURST", ge=1)
    #: ``auto``: an agent's reply goes at once unless another Slack request is being received
    #: by this process (then it waits 250 ms for a straggler); ``always``: it always waits, so
    #: that quick replies received by different web processes still go in Slack's order.
    reply_settle: Literal["auto", "always"] = Field("auto", alias="WABRIDGE_REPLY_SETTLE")
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("HOST"))
    port: int = Field(8000, validation_alias=AliasChoices("PORT"), ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """Plain ``postgresql://`` and ``sqlite://`` get the async drivers we ship."""
        try:
            url = make_url(value)
        except ArgumentError:
            # Only the scheme is echoed: the rest of a malformed URL may well be its password.
            scheme = value.split("://")[0] if "://" in value else "no scheme"
            raise ValueError(
                f"not a database URL ({scheme}); use sqlite+aiosqlite:///path.db "
                "or postgresql+psycopg://user:pass@host:5432/db"
            ) from None
        drivers = {
            "sqlite": "sqlite+aiosqlite",
            "sqlite+aiosqlite": "sqlite+aiosqlite",
            "postgres": "postgresql+psycopg",
            "postgresql": "postgresql+psycopg",
            "postgresql+psycopg": "postgresql+psycopg",
        }
        driver = drivers.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"{url.drivername} is not supported; use sqlite+aiosqlite:///path.db "
                "or postgresql+psycopg://user:pass@host:5432/db"
            )
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @model_validator(mode="after")
    def _http_mode_needs_signing_secret(self) -> Settings:
        secret = self.slack_signing_secret
        if self.slack_app_token is None and (secret is None or not secret.get_secret_value()):
            raise ValueError("SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN is set")
        return self

    @property
    def slack_api_url_normalized(self) -> str:
        return self.slack_api_url if self.slack_api_url.endswith("/") else self.slack_api_url + "/"

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for the log scrubber.

        The database password comes in each form it may take inside a URL as well.
        """
        held = [
            self.meta_access_token,
            self.meta_app_secret,
            self.meta_verify_token,
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.wabridge_api_token,
        ]
        values = [secret.get_secret_value() for secret in held if secret is not None]
        for password in _passwords(self.database_url):
            # As given, as database_url renders it, and as a strict or a form encoder would.
            values += [password, quote(password, safe=" +"), quote(password, safe="")]
            values.append(quote_plus(password))
        return list(dict.fromkeys(value for value in values if value))


def _passwords(database_url: str) -> list[str]:
    """The passwords in a database URL: libpq takes one after the user or as ``?password=``."""
    url = make_url(database_url)
    in_query = url.query.get("password", ())
    found = [url.password, *((in_query,) if isinstance(in_query, str) else in_query)]
    return [str(password) for password in found if password]


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    field = Settings.model_fields.get(location)
    name = (field.alias or location) if field is not None else location
    if first["type"] == "missing":
        return f"{name} is required but not set"
    message = first["msg"].removeprefix("Value error, ")
    return f"{name}: {message}" if name else message


def unused_settings(settings: Settings) -> list[str]:
    """One warning line per variable the user set whose feature this version does not have."""
    by_alias = {field.alias: name for name, field in Settings.model_fields.items()}
    warnings = []
    for variable, feature in NOT_YET_USED.items():
        if by_alias.get(variable) in settings.model_fields_set:
            verb = "are" if feature.endswith("s") else "is"  # "window warnings", "the sweep"
            warnings.append(
                f"{variable} is set but has no effect yet: "
                f"{feature} {verb} not built in this version"
            )
    return warnings


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and ``.env``) once; bad values raise ``ConfigError`` in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except SettingsError as error:
        raise ConfigError(str(error)) from None
