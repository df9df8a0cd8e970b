"""The REST API, behind a bearer token (closed to all while ``WABRIDGE_API_TOKEN`` is unset)."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request

from bridge.domain import MessageStatus
from bridge.errors import ConversationNotFoundError
from bridge.ports import ConversationRecord, MessageRecord
from webhook_server.deps import WebDeps

__all__ = ["conversation_json", "message_json", "register"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def conversation_json(c: ConversationRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "contact": {"wa_id": c.contact_id, "name": c.contact_name},
        "slack_channel": c.slack_channel,
        "slack_thread_ts": c.slack_thread_ts,
        "window_expires_at": _iso(c.window_expires_at),
        "last_message_at": _iso(c.last_message_at),
        "total_messages": c.total_messages,
    }


#: Statuses the contract's enum does not list, as it names them (a played voice note was read).
_CONTRACT_STATUS = {MessageStatus.PLAYED: MessageStatus.READ}


def message_json(m: MessageRecord) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "direction": m.direction.value,
        "sender_type": m.sender_type.value,
        "message_type": m.message_type,
        "content": m.content,
        "status": _CONTRACT_STATUS.get(m.status, m.status).value,
        "whatsapp_message_id": m.wamid,
        "created_at": _iso(m.created_at),
        "sent_at": _iso(m.sent_at),
        "delivered_at": _iso(m.delivered_at),
        "read_at": _iso(m.read_at),
        "failed_at": _iso(m.failed_at),
        "error_code": m.error_code,
        "error_message": m.error_message or m.error_title,
        "pricing_category": m.pricing_category,
    }


def register(app: FastAPI, deps: WebDeps) -> None:
    async def require_token(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        expected = deps.api_token
        if (
            not expected
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(given.encode(), expected.encode())
        ):
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    authorized = [Depends(require_token)]

    @app.get("/api/v1/conversations", dependencies=authorized)
    async def list_conversations(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        async with deps.uow() as uow:
            rows = await uow.conversations.list_recent(limit=limit, offset=offset)
        return [conversation_json(c) for c in rows]

    @app.get("/api/v1/conversations/{conversation_id}/messages", dependencies=authorized)
    async def list_messages(conversation_id: int) -> list[dict[str, Any]]:
        async with deps.uow() as uow:
            if await uow.conversations.get(conversation_id) is None:
                raise ConversationNotFoundError("conversation not found")
            rows = await uow.messages.for_conversation(conversation_id)
        return [message_json(m) for m in rows]
