"""The deployment files: no Docker engine here, so their structure is what we can check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_postgres_and_the_bridge_with_health_checks() -> None:
    services = _compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["bridge"]
    assert "/readyz" in " ".join(services["bridge"]["healthcheck"]["test"])
    assert services["bridge"]["build"] == "."


def test_compose_migrates_before_the_bridge_starts() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["wabridge", "migrate"]
    depends = services["bridge"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    url = services["bridge"]["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and "@postgres:5432/" in url


def test_dockerfile_installs_every_package_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("wabridge", "bridge", "whatsapp", "storage", "webhook_server", "slack_app"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert re.search(r'CMD \["wabridge", "serve"', dockerfile)
    assert "HEALTHCHECK" in dockerfile


def test_env_example_lists_every_contract_variable() -> None:
    contract = {
        "DATABASE_URL", "META_API_BASE", "META_API_VERSION", "META_ACCESS_TOKEN",
        "META_APP_SECRET", "META_VERIFY_TOKEN", "META_PHONE_NUMBER_ID", "META_WABA_ID",
        "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CHANNEL_ID",
        "SLACK_API_URL", "WABRIDGE_API_TOKEN", "WABRIDGE_WARN_BEFORE", "WABRIDGE_SCAN_INTERVAL",
        "WABRIDGE_NOTE_PREFIX", "WABRIDGE_LOG_FORMAT", "WABRIDGE_RETRY_FOR", "WABRIDGE_RETENTION",
        "HOST", "PORT",
    }  # fmt: skip
    from wabridge.settings import BEYOND_CONTRACT

    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert listed == contract | BEYOND_CONTRACT


MANIFESTS = ["slack-manifest.yml", "slack-manifest.socket.yml"]


def _manifest(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", MANIFESTS)
def test_each_manifest_declares_the_shortcut_and_command_the_code_listens_to(name: str) -> None:
    from slack_app.ids import COMMAND, SEND_TEMPLATE_SHORTCUT

    manifest = _manifest(name)
    assert manifest["features"]["shortcuts"][0]["callback_id"] == SEND_TEMPLATE_SHORTCUT
    assert manifest["features"]["slash_commands"][0]["command"] == COMMAND
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


@pytest.mark.parametrize("name", MANIFESTS)
def test_each_manifest_asks_only_for_the_scopes_and_events_the_code_uses(name: str) -> None:
    from slack_app.scopes import BOT_EVENTS, BOT_SCOPES, SCOPE_OF_METHOD

    manifest = _manifest(name)
    called = {
        method
        for path in (ROOT / "slack_app").rglob("*.py")
        for method in re.findall(r"client\.([a-z]+_[A-Za-z]+)\(", path.read_text())
    }
    # A new call needs its scope in slack_app/scopes.py, and so in the manifests. (The
    # Socket Mode connection is opened with the app-level token, which has no bot scope.)
    assert called - {"apps_connections_open"} == {m.replace(".", "_") for m in SCOPE_OF_METHOD}
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == BOT_EVENTS


def test_the_http_manifest_points_every_request_at_one_url_and_socket_mode_needs_none() -> None:
    http, socket = _manifest(MANIFESTS[0]), _manifest(MANIFESTS[1])
    urls = {
        http["features"]["slash_commands"][0]["url"],
        http["settings"]["event_subscriptions"]["request_url"],
        http["settings"]["interactivity"]["request_url"],
        http["settings"]["interactivity"]["message_menu_options_url"],
    }
    assert urls == {"https://wabridge.example.com/slack/events"}
    assert http["settings"]["socket_mode_enabled"] is False
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "url" not in socket["features"]["slash_commands"][0]
    assert "request_url" not in socket["settings"]["interactivity"]
