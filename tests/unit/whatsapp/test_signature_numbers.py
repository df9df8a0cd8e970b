"""Which numbers a webhook names, and whose app secret checks it."""

from __future__ import annotations

import json
from collections.abc import Iterable

from whatsapp.signature import WebhookSignatures, named_numbers, sign

SECRETS = {"2000000002": "sales-secret"}


def _body(*numbers: str) -> bytes:
    changes = [
        {"field": "messages", "value": {"metadata": {"phone_number_id": n}, "messages": []}}
        for n in numbers
    ]
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"changes": changes}]}
    ).encode()


def test_named_numbers_reads_every_change_and_ignores_what_is_not_metas_shape() -> None:
    assert named_numbers(_body("1", "2", "1")) == {"1", "2"}
    assert named_numbers(b"not json") == set()
    assert named_numbers(b'{"entry": [{"changes": [{"value": {"metadata": 5}}]}]}') == set()
    assert named_numbers(b"[1, 2]") == set()


def _signatures(reloads: list[int]) -> WebhookSignatures:
    async def secrets_for(numbers: Iterable[str]) -> set[str | None]:
        return {SECRETS.get(n) for n in numbers} or {None}

    async def any_own() -> bool:
        return True

    async def reload() -> bool:
        reloads.append(1)
        return len(reloads) < 2

    return WebhookSignatures(
        app_secret="env-secret", secrets_for=secrets_for, any_own_secret=any_own, reload=reload
    )


async def test_each_number_is_checked_with_its_apps_secret() -> None:
    signatures = _signatures([])
    sales, default = _body("2000000002"), _body("1000000001")
    assert await signatures.verify(sales, sign("sales-secret", sales))
    assert not await signatures.verify(sales, sign("env-secret", sales))
    assert await signatures.verify(default, sign("env-secret", default))
    assert not await signatures.verify(default, sign("sales-secret", default))


async def test_a_body_naming_numbers_of_two_apps_is_refused() -> None:
    mixed = _body("2000000002", "1000000001")
    signatures = _signatures([])
    assert not await signatures.verify(mixed, sign("sales-secret", mixed))
    assert not await signatures.verify(mixed, sign("env-secret", mixed))


async def test_a_header_that_is_no_signature_is_refused_without_reading_the_numbers() -> None:
    """So that a missing or malformed signature is 401 even while the database is away."""

    async def away(*_: object) -> bool:
        raise ConnectionError("database away")

    signatures = WebhookSignatures(
        app_secret="env-secret", secrets_for=away, any_own_secret=away, reload=away
    )
    body = _body("1000000001")
    for header in (None, "", "sha1=abc", "sha256=", "sha256=" + "g" * 64, "sha256=" + "a" * 63):
        assert not await signatures.verify(body, header)
