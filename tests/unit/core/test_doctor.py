from __future__ import annotations

from wabridge.doctor import Check, render


def test_one_line_per_check_with_the_fix_of_each_failure_then_a_summary() -> None:
    checks = [
        Check(name="Meta token", ok=True, detail="valid (system user Ops)"),
        Check(
            name="Slack scopes",
            ok=False,
            detail="missing reactions:write",
            fix="add it under OAuth & Permissions, then reinstall the app",
        ),
        Check(name="Webhook handshake", ok=None, detail="not checked: give --public-url"),
    ]
    assert render(checks).splitlines() == [
        "✓ Meta token: valid (system user Ops)",
        "✗ Slack scopes: missing reactions:write — add it under OAuth & Permissions, then "
        "reinstall the app",
        "- Webhook handshake: not checked: give --public-url",
        "1 failed, 1 passed, 1 skipped: fix the ✗ lines above.",
    ]


def test_a_skip_is_not_a_failure() -> None:
    checks = [
        Check(name="Database", ok=True, detail="reachable"),
        Check(name="Webhook handshake", ok=None, detail="not checked"),
    ]
    assert render(checks).splitlines()[-1] == "No problems found: 1 passed, 1 skipped."
    assert render(checks[:1]).splitlines()[-1] == "No problems found: 1 passed."
