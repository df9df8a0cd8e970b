"""The two peers ``bench/ingest.py`` measures ``wabridge serve`` against, each run by uvicorn
with the same settings as ``serve`` (no access log):

- ``bare``: a Starlette endpoint that only checks the ``X-Hub-Signature-256`` HMAC and
  answers 200, storing nothing: the ceiling of any Python webhook endpoint on this machine;
- ``pywa``: pywa's own FastAPI webhook handler (``WhatsApp(server=app, ...)``), with its
  signature check on and a message handler that does nothing: what a hand-rolled bot on
  pywa answers Meta with. pywa comes with ``pip install -e '.[bench]'``.

    .venv/bin/python bench/ingest_servers.py bare --port 9001 --app-secret S
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PATH = "/webhooks/whatsapp"


def bare_app(app_secret: str) -> Starlette:
    key = app_secret.encode()

    async def receive(request: Request) -> Response:
        body = await request.body()
        given = request.headers.get("x-hub-signature-256", "")
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def pywa_app(app_secret: str, verify_token: str) -> Any:
    from fastapi import FastAPI
    from pywa_async import WhatsApp

    app = FastAPI()
    wa = WhatsApp(
        phone_id="1000000001",
        token="bench-token",
        server=app,
        webhook_endpoint=PATH,
        verify_token=verify_token,
        app_secret=app_secret,
        validate_updates=True,
    )

    @wa.on_message()
    async def on_message(_: Any, __: Any) -> None:
        return None

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["bare", "pywa"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-secret", required=True)
    parser.add_argument("--verify-token", default="bench-verify-token")
    args = parser.parse_args()
    app = (
        bare_app(args.app_secret)
        if args.kind == "bare"
        else pywa_app(args.app_secret, args.verify_token)
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
