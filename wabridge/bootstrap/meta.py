"""The WhatsApp side: the business numbers, the Cloud API client and its pacing, the
account's templates.
"""

from __future__ import annotations

import httpx

from bridge.pacing import Rate
from bridge.ports import (
    CallObserver,
    Clock,
    Holds,
    WhatsApp,
)
from bridge.usecases.numbers import NumberBook
from bridge.usecases.templates import Templates
from wabridge.base import Storage, default_number
from wabridge.logs import also_redact
from wabridge.settings import ConfigError, Settings
from whatsapp.client import WhatsAppClient
from whatsapp.pacing import MetaPacing, MetaRates


def build_numbers(settings: Settings, *, storage: Storage) -> NumberBook:
    """The business numbers: the environment's is the default; more with ``numbers add``."""
    return NumberBook(uow=storage.uow, default=default_number(settings), on_secrets=also_redact)


def meta_rates(settings: Settings) -> MetaRates:
    """Sends per business number (a second's worth at once) and to one recipient."""
    per_second = settings.meta_rate
    return MetaRates(
        number=Rate(per_second=per_second, burst=max(1, round(per_second))),
        pair=Rate(per_second=settings.meta_pair_rate, burst=settings.meta_pair_burst),
    )


def build_whatsapp(
    settings: Settings,
    *,
    http: httpx.AsyncClient | None = None,
    numbers: NumberBook | None = None,
    calls: CallObserver | None = None,
    holds: Holds | None = None,
) -> WhatsAppClient:
    return WhatsAppClient(
        base_url=settings.meta_api_base,
        version=settings.meta_api_version,
        access_token=settings.meta_access_token.get_secret_value(),
        http=http,
        # Sends are retried as jobs, in order, with Meta's backoff; one try here keeps every
        # call well inside the job's lease.
        max_attempts=1,
        token_for=numbers.token_for if numbers is not None else None,
        calls=calls,
        pacing=MetaPacing(rates=meta_rates(settings), holds=holds),
    )


def build_templates(
    settings: Settings,
    *,
    storage: Storage,
    whatsapp: WhatsApp,
    clock: Clock,
    numbers: NumberBook | None = None,
) -> Templates | None:
    """The accounts' templates (the default one's, and those of the numbers added with an
    account of their own), or None without ``META_WABA_ID``."""
    if not settings.meta_waba_id:
        return None
    return Templates(
        uow=storage.uow,
        whatsapp=whatsapp,
        clock=clock,
        waba_id=settings.meta_waba_id,
        numbers=numbers.numbers if numbers is not None else None,
    )


def require_templates(templates: Templates | None) -> Templates:
    if templates is None:
        raise ConfigError("META_WABA_ID is required for templates but not set")
    return templates
