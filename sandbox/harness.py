"""The whole bridge against the simulators: both simulators in this process, and
``wabridge serve`` as a real child process pointed at them.

Used by ``wabridge demo``, the end-to-end tests and the benchmarks. The bridge
runs as a child process so that it can be killed with SIGKILL and restarted, as a
crash would. With several processes that serve HTTP (``web`` or ``all`` roles), each
listens on its own port behind a round-robin load balancer (``sandbox/balancer.py``),
and the simulators deliver to the balancer.

Children are forked from a server process that has imported wabridge once
(``multiprocessing``'s forkserver): each then runs ``python -m wabridge serve`` with its
own environment, directory and log, and starts without the second and a half an
interpreter spends importing FastAPI, bolt and SQLAlchemy. ``tests/e2e/test_cli.py`` and
``test_env_example.py`` still start ``python -m wabridge`` as a new interpreter. A script
that starts a Sandbox needs ``if __name__ == "__main__"``, as with any multiprocessing.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import runpy
import secrets
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx

from sandbox.balancer import Balancer
from sandbox.meta_sim import MetaSimulator
from sandbox.server import Startable, free_port, release_port
from sandbox.slack_sim import SlackSimulator

__all__ = ["BridgeProcess", "Sandbox", "bridge_work"]

ACCESS_TOKEN = "EAAG-sandbox-access-token-0123456789"
APP_SECRET = "sandbox-app-secret-0123456789"
BOT_TOKEN = "xoxb-sandbox-bot-token-0123456789"
SIGNING_SECRET = "sandbox-signing-secret-0123456789"
API_TOKEN = "sandbox-rest-api-token"
CHANNEL = "C0SUPPORT"


#: The roles whose processes serve HTTP.
HTTP_ROLES = frozenset({"all", "web"})

_SAMPLE = re.compile(r"^(wabridge_[a-z_]+)(\{[^}]*\})? ([0-9.eE+-]+)$")


def bridge_work(metrics_text: str) -> dict[str, float]:
    """The work figures of a bridge's ``/metrics``: queue depths, jobs by state, listeners."""
    figures: dict[str, float] = {}
    for line in metrics_text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            name, labels, value = match.groups()
            figures[name + (labels or "")] = float(value)
    return figures


#: Forks ``wabridge serve`` processes from a server that imported wabridge once.
_FORKS = multiprocessing.get_context("forkserver")
_FORKS.set_forkserver_preload(["wabridge.cli", "wabridge.bootstrap", "storage.db"])


def _serve(argv: list[str], env: dict[str, str], cwd: str, log_path: str) -> None:
    """In the forked child: become ``wabridge serve`` with this environment and log."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.argv = ["wabridge", *argv]
    runpy.run_module("wabridge", run_name="__main__", alter_sys=True)  # python -m wabridge


class BridgeProcess:
    """``wabridge serve`` in a child process, with its log in a file."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        port: int,
        workdir: Path,
        role: str = "all",
        log_name: str | None = None,
    ) -> None:
        self.env = env
        self.port = port
        self.workdir = workdir
        self.role = role
        default_name = f"bridge-{role}.log" if role != "all" else "bridge.log"
        self.log_path = workdir / (log_name or default_name)
        self._proc: BaseProcess | None = None
        self._terminated = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while it runs (benchmarks read its memory in ``/proc``)."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._proc is not None and self._proc.is_alive()

    @property
    def serves_http(self) -> bool:
        return self.role in HTTP_ROLES

    def start(self, *, timeout: float = 60.0, wait: bool = True) -> None:
        """Start the process; one that serves HTTP is waited for until ready, unless not
        ``wait`` (then call ``wait_ready``)."""
        self._terminated = False
        argv = [
            *("serve", "--role", self.role),
            *(["--port", str(self.port)] if self.serves_http else []),
            *(["--no-migrate"] if self.role == "worker" else []),
        ]
        self._proc = _FORKS.Process(
            target=_serve,
            args=(argv, self.env, str(self.workdir), str(self.log_path)),
            name=f"wabridge-{self.role}",
        )
        self._proc.start()
        if wait and self.serves_http:
            self.wait_ready(timeout=timeout)

    def wait_ready(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._proc is not None and not self._proc.is_alive():
                    raise RuntimeError(f"wabridge serve exited early:\n{self.log_tail()}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        self._check_it_is_ours(client)
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise TimeoutError(f"wabridge serve not ready after {timeout}s:\n{self.log_tail()}")

    def _check_it_is_ours(self, client: httpx.Client) -> None:
        """The bridge that answers on this port knows this one's verify token: not another
        test's, given the same port (its simulators would then deliver here)."""
        token = self.env.get("META_VERIFY_TOKEN")
        if token is None:
            return
        challenge = secrets.token_hex(8)
        answer = client.get(
            f"{self.url}/webhooks/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge},
        )
        if answer.status_code != 200 or answer.text != challenge:
            raise RuntimeError(f"another process answers on port {self.port}, not this bridge")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(timeout=10)
            self._proc.close()
            self._proc = None

    def terminate(self) -> None:
        """SIGTERM, once, without waiting: ``stop`` waits. Several processes end side by side."""
        if self._proc is not None and not self._terminated:
            self._proc.terminate()
            self._terminated = True

    def stop(self) -> None:
        """SIGTERM (unless ``terminate`` sent it), and wait for a graceful exit."""
        self.terminate()
        if self._proc is not None:
            self._proc.join(timeout=15)
            if self._proc.exitcode is None:
                self._proc.kill()
                self._proc.join(timeout=10)
            self._proc.close()
            self._proc = None
        self._terminated = False

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Sandbox(Startable):
    """Both simulators plus a real ``wabridge serve`` (one process per role in ``roles``),
    wired to each other.

    ``port`` and ``url`` are where the simulators deliver: the one process that serves
    HTTP, or the load balancer (``balancer``) in front of several.
    """

    def __init__(
        self,
        *,
        workdir: Path,
        database_url: str | None = None,
        extra_env: dict[str, str] | None = None,
        meta_options: dict[str, Any] | None = None,
        slack_options: dict[str, Any] | None = None,
        roles: tuple[str, ...] = ("all",),
    ) -> None:
        self.workdir = workdir
        self.database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'wabridge.db'}"
        self.meta = MetaSimulator(
            access_token=ACCESS_TOKEN, app_secret=APP_SECRET, **(meta_options or {})
        )
        self.slack = SlackSimulator(
            bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, **(slack_options or {})
        )
        self._extra_env = extra_env or {}
        self.roles = roles
        self.bridge: BridgeProcess | None = None
        self.others: list[BridgeProcess] = []
        webs = sum(role in HTTP_ROLES for role in roles)
        # Each process that serves HTTP keeps its port across restarts (``start_bridge``), so
        # the balancer's list of backends stays true.
        self._ports = [free_port() if role in HTTP_ROLES and webs > 1 else 0 for role in roles]
        self.balancer: Balancer | None = (
            Balancer([("127.0.0.1", port) for port in self._ports if port]) if webs > 1 else None
        )
        self.port = self.balancer.port if self.balancer is not None else free_port()
        # Each sandbox's own: its bridge proves with it that it is the one on its port.
        self.verify_token = f"sandbox-verify-{secrets.token_hex(8)}"

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "TMPDIR"}}
        return {
            **keep,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.database_url,
            "META_API_BASE": self.meta.url,
            "META_API_VERSION": self.meta.version,
            "META_ACCESS_TOKEN": ACCESS_TOKEN,
            "META_APP_SECRET": APP_SECRET,
            "META_VERIFY_TOKEN": self.verify_token,
            "META_PHONE_NUMBER_ID": self.meta.phone_number_id,
            "META_WABA_ID": self.meta.waba_id,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL_ID": CHANNEL,
            "SLACK_API_URL": self.slack.url,
            "WABRIDGE_API_TOKEN": API_TOKEN,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # Slack's tiers allow about 50 reactions a minute: fine for a support team, far
            # too slow for a test that plays hundreds of deliveries. Posts keep their real
            # pace (one a second per channel, bursts of 8), and so does Meta.
            "WABRIDGE_SLACK_TIER_RATES": "10/s,100/s,100/s,100/s",
            **self._extra_env,
        }

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.meta.start()
        self.slack.start()
        base = f"http://127.0.0.1:{self.port}"
        self.meta.webhook_url = f"{base}/webhooks/whatsapp"
        self.slack.events_url = f"{base}/slack/events"
        self.start_bridge()

    def start_bridge(self) -> None:
        """The first role serves HTTP (and migrates); any further roles join it, and those
        that serve HTTP are waited for until ready."""
        seen: dict[str, int] = {}
        processes = []
        for role, port in zip(self.roles, self._ports, strict=True):
            seen[role] = seen.get(role, 0) + 1
            processes.append(
                BridgeProcess(
                    env=self.env(),
                    port=port or self.port,
                    workdir=self.workdir,
                    role=role,
                    log_name=None if seen[role] == 1 else f"bridge-{role}-{seen[role]}.log",
                )
            )
        self.bridge, *self.others = processes
        if self.balancer is not None:
            self.balancer.start()
        self.bridge.start()
        for process in self.others:
            process.start(wait=False)
        for process in self.others:
            if process.serves_http:
                process.wait_ready(timeout=60.0)

    @property
    def processes(self) -> list[BridgeProcess]:
        """Every ``wabridge serve`` process, in the order of ``roles``."""
        return [self.bridge, *self.others] if self.bridge is not None else []

    def stop(self) -> None:
        for process in self.others:
            process.terminate()
        for process in self.others:
            process.stop()
        if self.bridge is not None:
            self.bridge.stop()
        if self.balancer is not None:
            self.balancer.stop()
        self.slack.stop()
        self.meta.stop()
        for port in [self.port, *self._ports]:
            release_port(port)

    def work(self) -> dict[str, float]:
        """What the bridge is busy with now, from its ``/metrics``: the database's figures as
        any process reports them, and the Slack listeners running in every process that
        serves HTTP (each counts only its own)."""
        urls = [p.url for p in self.processes if p.serves_http] or [self.url]
        figures = [bridge_work(httpx.get(f"{url}/metrics", timeout=5).text) for url in urls]
        listeners = "wabridge_slack_listeners_running"
        return {**figures[0], listeners: sum(f.get(listeners, 1) for f in figures)}

    def wait_idle(self, *, timeout: float = 30.0, waiting_ok: bool = False) -> bool:
        """Wait until the bridge has nothing left to do, seen twice in a row: every webhook
        processed, no Slack listener running, and no job pending (``waiting_ok``: none due or
        running; jobs waiting for a retry are allowed). Both simulators must be idle too.

        This is how a test proves that something did *not* happen: once the bridge is idle,
        it never will.
        """

        def idle() -> bool:
            figures = self.work()
            jobs = (
                figures.get('wabridge_jobs{state="due"}', 1)
                + figures.get('wabridge_jobs{state="running"}', 1)
                if waiting_ok
                else figures.get("wabridge_outbox_depth", 1)
            )
            return (
                figures.get("wabridge_inbox_depth", 1) == 0
                and figures.get("wabridge_slack_listeners_running", 1) == 0
                and jobs == 0
            )

        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            quiet = self.meta.wait_idle(timeout=0) and self.slack.wait_idle(timeout=0)
            streak = streak + 1 if quiet and idle() else 0
            if streak >= 2:
                return True
            time.sleep(0.1)
        return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
