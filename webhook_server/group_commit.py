"""Webhook bodies of concurrent requests stored together: one transaction, one commit.

Meta delivers many webhooks at once. Stored one transaction each, every request pays a
commit of its own; here the bodies that arrive while a transaction is under way wait for
the next one, which takes all of them (group commit). Each request still answers only
once its own body is committed, and hears the error if that commit failed, so a body is
never acknowledged unstored.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from bridge.ports import NewWebhook, UnitOfWorkFactory

__all__ = ["GroupCommit"]

log = logging.getLogger(__name__)

#: The most bodies one transaction takes (a burst beyond it waits for the next one).
MAX_GROUP: Final = 200


class GroupCommit:
    def __init__(self, uow: UnitOfWorkFactory, *, max_group: int = MAX_GROUP) -> None:
        self._uow = uow
        self._max_group = max_group
        self._waiting: list[tuple[NewWebhook, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def store(self, webhook: NewWebhook) -> int:
        """The body's inbox id, once committed; raises what the database raised."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((webhook, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="inbox-group-commit")
        return await future

    async def _write(self) -> None:
        group: list[tuple[NewWebhook, asyncio.Future[int]]] = []
        try:
            while self._waiting:
                group = self._waiting[: self._max_group]
                del self._waiting[: self._max_group]
                try:
                    async with self._uow() as uow:
                        ids = await uow.inbox.store_many([webhook for webhook, _ in group])
                        await uow.commit()
                except Exception as error:  # every request of the group answers 503
                    _fail(group, error)
                else:
                    for (_, future), inbox_id in zip(group, ids, strict=True):
                        if not future.done():  # its request may have gone meanwhile
                            future.set_result(inbox_id)
                group = []
        finally:
            # Cancelled (the server is stopping): whatever was not committed is not stored.
            _fail(group + self._waiting, RuntimeError("stopped before the webhook was stored"))
            self._waiting.clear()
            self._writer = None


def _fail(group: list[tuple[NewWebhook, asyncio.Future[int]]], error: Exception) -> None:
    for _, future in group:
        if not future.done():
            future.set_exception(error)
