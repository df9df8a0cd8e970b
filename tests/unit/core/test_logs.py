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


LONG_SECRET = "EAAG" + "Zq8xW3rT" * 24 + "k9Lp"  # 200 characters, like a Meta token


def _emit_everything(secret: str) -> None:
    """The secret in the message, its arguments, ``extra=`` fields and an exception."""
    log = logging.getLogger("wabridge.test")
    log.info("token is %s", secret, extra={"token": secret, "payload": {"auth": [secret]}})
    try:
        raise RuntimeError(f"refused {secret}\nby the server")
    except RuntimeError:
        log.exception("call failed", extra={"conversation_id": 7})


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("secret", ["Q", "Zj", "&%7", LONG_SECRET])
def test_secrets_of_any_length_never_show(
    restore_root: object, capsys: pytest.CaptureFixture[str], fmt: str, secret: str
) -> None:
    configure_logging(fmt=fmt, secrets=[secret])
    _emit_everything(secret)
    out = capsys.readouterr().err
    lines = out.strip().splitlines()
    assert len(lines) == 2  # still one event per line
    assert secret not in out
    assert all("[redacted]" in line for line in lines)
    if fmt == "json":
        first, second = (json.loads(line) for line in lines)
        assert first["token"] == "[redacted]"
        assert first["payload"] == {"auth": ["[redacted]"]}
        assert "exc" in second and second["conversation_id"] == 7
    else:
        assert " exc=" in lines[1]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_escaped_by_repr_or_json_are_found_too(
    restore_root: object, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    # Quotes, backslashes and non-ASCII letters are escaped in a repr() or a JSON string.
    secret = "p\"ä'ss\\wörd"
    configure_logging(fmt=fmt, secrets=[secret])
    _emit_everything(secret)
    out = capsys.readouterr().err
    for escaped in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
        assert escaped not in out
    assert "wörd" not in out and "\\u00f6rd" not in out


def test_overlapping_secrets_leave_no_piece_of_either(
    restore_root: object, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="text", secrets=["abcd", "cdef", "d"])
    logging.getLogger("wabridge.test").warning("x abcdef y")
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.endswith("x [redacted] y")


def test_empty_secrets_are_ignored(
    restore_root: object, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(fmt="text", secrets=["", "s3cret"])
    logging.getLogger("wabridge.test").warning("plain s3cret")
    assert capsys.readouterr().err.strip().endswith("plain [redacted]")


def test_alembic_plugin_chatter_is_quiet(
    restore_root: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # `wabridge migrate` must fail in one line: nothing else may reach stderr.
    configure_logging(fmt="text", secrets=[])
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.types")
    assert capsys.readouterr().err == ""
