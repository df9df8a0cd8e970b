"""Settings: every environment variable of CONTRACT.md, read once, validated, passed down."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import (
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

__all__ = ["ConfigError", "Settings", "load_settings", "parse_duration"]

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
    return timedelta(**{_UNITS[unit]: int(amount)})


def _parse_durations(value: Any) -> tuple[timedelta, ...]:
    if isinstance(value, tuple | list):
        return tuple(parse_duration(v) for v in value)
    parts = [p for p in str(value).split(",") if p.strip()]
    if not parts:
        raise ValueError("give at least one duration, e.g. 2h,30m")
    return tuple(sorted((parse_duration(p) for p in parts), reverse=True))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Durations = Annotated[tuple[timedelta, ...], NoDecode, BeforeValidator(_parse_durations)]


class ConfigError(Exception):
    """Bad configuration, worded as the one line an operator needs."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = Field("sqlite+aiosqlite:///./wabridge.db", alias="DATABASE_URL")
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
    note_prefix: str = Field("//", alias="WABRIDGE_NOTE_PREFIX", min_length=1)
    log_format: Literal["text", "json"] = Field("text", alias="WABRIDGE_LOG_FORMAT")
    host: str = Field("127.0.0.1", validation_alias=AliasChoices("HOST"))
    port: int = Field(8000, validation_alias=AliasChoices("PORT"), ge=1, le=65535)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        """Plain ``postgresql://`` and ``sqlite://`` get the async drivers we ship."""
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError(f"not a database URL: {value.split('://')[0]}://...") from None
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


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(p) for p in first["loc"])
    field = Settings.model_fields.get(location)
    name = (field.alias or location) if field is not None else location
    if first["type"] == "missing":
        return f"{name} is required but not set"
    message = first["msg"].removeprefix("Value error, ")
    return f"{name}: {message}" if name else message


def load_settings(**overrides: Any) -> Settings:
    """Read the environment (and ``.env``) once; bad values raise ``ConfigError`` in one line."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except SettingsError as error:
        raise ConfigError(str(error)) from None
