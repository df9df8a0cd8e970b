"""The REST API, behind a bearer token (closed to all while ``WABRIDGE_API_TOKEN`` is unset).

Lists page with a cursor: the body stays a JSON list, and the next page's cursor comes in an
``X-Next-Cursor`` header and a ``Link: <...>; rel="next"`` header, both absent on the last
page. Errors: 401 without the token, 404 for an unknown conversation, 422 for a malformed
request (FastAPI's field errors) or a refused one (``{"detail": {"reason": ...}}``).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Final

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bridge.usecases.api import MAX_IDEMPOTENCY_KEY
from webhook_server.cursors import (
    MAX_ID,
    CursorError,
    conversation_cursor,
    message_cursor,
    read_conversation_cursor,
    read_message_cursor,
)
from webhook_server.deps import WebDeps
from webhook_server.schemas import (
    ConversationDetail,
    ConversationResponse,
    ErrorResponse,
    FieldErrors,
    MessageResponse,
    RefusalResponse,
    SendMessageRequest,
)

__all__ = ["register"]

#: The most rows one page holds.
MAX_PAGE: Final = 500

_bearer = HTTPBearer(auto_error=False, description="WABRIDGE_API_TOKEN")

ConversationId = Annotated[int, Path(ge=1, le=MAX_ID, examples=[1])]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="The most rows on one page.")]
Cursor = Annotated[
    str | None,
    Query(description="Where to go on: the previous page's X-Next-Cursor, as it was given."),
]

_PAGED: Final[dict[int | str, dict[str, Any]]] = {
    200: {
        "headers": {
            "X-Next-Cursor": {
                "description": "The cursor of the next page; absent on the last page.",
                "schema": {"type": "string"},
            },
            "Link": {
                "description": 'The next page, as <url>; rel="next"; absent on the last page.',
                "schema": {"type": "string"},
            },
        }
    }
}
_UNAUTHORIZED: Final[dict[int | str, dict[str, Any]]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong bearer token."},
    503: {"model": ErrorResponse, "description": "The database did not answer; retry later."},
}
_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"model": ErrorResponse, "description": "No conversation has that id."}
}
_INVALID: Final[dict[int | str, dict[str, Any]]] = {
    422: {"model": FieldErrors, "description": "A malformed parameter (a cursor, a limit...)."}
}
_REFUSED: Final[dict[int | str, dict[str, Any]]] = {
    422: {
        "model": FieldErrors | RefusalResponse,
        "description": "A malformed request (field errors, as `content.text`), or one refused "
        "with a reason: `window_expired` (outside the 24-hour window only a template can be "
        "sent), `idempotency_key_reused`, `unknown_template`, `template_not_usable`.",
    }
}


def _bad_parameter(where: str, message: str, given: str) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", where), "msg": message, "input": given}]
    )


def _next_page(request: Request, response: Response, cursor: str | None) -> None:
    if cursor is None:
        return
    url = request.url.remove_query_params("offset").include_query_params(cursor=cursor)
    response.headers["X-Next-Cursor"] = cursor
    response.headers["Link"] = f'<{url}>; rel="next"'


def register(app: FastAPI, deps: WebDeps) -> None:
    async def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        expected = deps.api_token
        given = credentials.credentials if credentials is not None else ""
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    authorized = [Depends(require_token)]

    @app.get(
        "/api/v1/conversations",
        dependencies=authorized,
        responses={**_PAGED, **_UNAUTHORIZED, **_INVALID},
        summary="Conversations, newest first",
    )
    async def list_conversations(
        request: Request,
        response: Response,
        limit: Limit = 50,
        cursor: Cursor = None,
        offset: Annotated[
            int, Query(ge=0, le=MAX_ID, description="Rows to skip (prefer the cursor).")
        ] = 0,
    ) -> list[ConversationResponse]:
        after = None
        if cursor is not None:
            if offset:
                raise _bad_parameter("offset", "give either a cursor or an offset", str(offset))
            try:
                after = read_conversation_cursor(cursor)
            except CursorError as error:
                raise _bad_parameter("cursor", str(error), cursor) from None
        page = await deps.api.conversations(limit=limit, after=after, offset=offset)
        _next_page(request, response, conversation_cursor(page.next) if page.next else None)
        return [ConversationResponse.of(c) for c in page.items]

    @app.get(
        "/api/v1/conversations/{conversation_id}",
        dependencies=authorized,
        responses={**_UNAUTHORIZED, **_NOT_FOUND, **_INVALID},
        summary="One conversation, with its metrics",
    )
    async def get_conversation(conversation_id: ConversationId) -> ConversationDetail:
        return ConversationDetail.of_metrics(await deps.api.conversation(conversation_id))

    @app.get(
        "/api/v1/conversations/{conversation_id}/messages",
        dependencies=authorized,
        responses={**_PAGED, **_UNAUTHORIZED, **_NOT_FOUND, **_INVALID},
        summary="A conversation's messages, oldest first",
    )
    async def list_messages(
        request: Request,
        response: Response,
        conversation_id: ConversationId,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> list[MessageResponse]:
        after = None
        if cursor is not None:
            try:
                after = read_message_cursor(cursor, conversation_id)
            except CursorError as error:
                raise _bad_parameter("cursor", str(error), cursor) from None
        page = await deps.api.messages(conversation_id, limit=limit, after=after)
        _next_page(
            request,
            response,
            message_cursor(conversation_id, page.next) if page.next is not None else None,
        )
        return [MessageResponse.of(m) for m in page.items]

    @app.post(
        "/api/v1/conversations/{conversation_id}/messages",
        dependencies=authorized,
        status_code=201,
        responses={
            201: {
                "description": "Stored `pending`, queued for WhatsApp and the thread. A retry "
                "with the same Idempotency-Key gets the first answer again (header "
                "`Idempotent-Replayed: true`) and sends nothing more."
            },
            400: {"model": ErrorResponse, "description": "A body that is not JSON text."},
            **_UNAUTHORIZED,
            **_NOT_FOUND,
            **_REFUSED,
        },
        summary="Send a message to the conversation's contact",
    )
    async def send_message(
        conversation_id: ConversationId,
        body: SendMessageRequest,
        response: Response,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=MAX_IDEMPOTENCY_KEY,
                description="Makes a retried request return the first answer and send once.",
            ),
        ] = None,
    ) -> MessageResponse:
        sent = await deps.api.send(
            conversation_id=conversation_id,
            message_type=body.message_type,
            content=body.content,
            idempotency_key=idempotency_key,
        )
        if not sent.created:  # the first answer again (201, as it was)
            response.headers["Idempotent-Replayed"] = "true"
        return MessageResponse.of(sent.message)
