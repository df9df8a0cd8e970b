from __future__ import annotations

import json
import logging

import pytest

from wabridge.logs import configure_logging


@pytest.fixture
def restore_root() -> object:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_ids_and_never_secrets(
    restore_root: object, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="json", secrets=["xoxb-top-secret-token"])
    logging.getLogger("wabridge.test").info(
        "reply sent with xoxb-top-secret-token", extra={"conversation_id": 7, "message_id": 9}
    )
    [line] = capsys.readouterr().err.strip().splitlines()
    event = json.loads(line)
    assert event["event"] == "reply sent with [redacted]"
    assert (event["conversation_id"], event["message_id"]) == (7, 9)
    assert event["level"] == "info"


def test_text_lines_are_one_event_each(
    restore_root: object, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="text", secrets=["app-secret-value"])
    try:
        raise ValueError("boom app-secret-value\nsecond line")
    except ValueError:
        logging.getLogger("wabridge.test").exception("failed", extra={"inbox_id": 3})
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "failed inbox_id=3" in line and "app-secret-value" not in line
