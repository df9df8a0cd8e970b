"""Issue 8's topology on real processes: two web processes behind a round-robin load
balancer, two workers and two schedulers, all on one PostgreSQL database.

Customers in several conversations write at once, agents answer in the threads, and some
windows are about to close. What a user would notice must hold: each customer message in
its thread once and in order, each reply sent once and in order, each warning posted once.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.harness import CHANNEL, Sandbox
from tests.dbutil import USE_POSTGRES
from tests.e2e.steps import thread_texts

pytestmark = pytest.mark.e2e

ROLES = ("web", "web", "worker", "worker", "scheduler", "scheduler")
ENV = {
    # Scan every second, so that both schedulers race for each window that comes due.
    "WABRIDGE_SCAN_INTERVAL": "1s",
    # Slack's pace of one post a second per channel would make this run half a minute of
    # waiting; faster, more jobs are in flight across both workers at once.
    "WABRIDGE_SLACK_POST_RATE": "20/s",
    # As docs/operations.md says to run several web processes.
    "WABRIDGE_REPLY_SETTLE": "always",
}
MESSAGES = 6
#: The agent answers after these of the customer's messages.
ANSWER_AFTER = (2, 4, 6)


@dataclass(frozen=True)
class Customer:
    wa_id: str
    name: str
    #: None: writes now. Else how long ago every message of hers was written (a phone that
    #: was offline: Meta delivers late, with the time each was written, here one second).
    hours_ago: float | None = None

    def timestamp(self, start: float) -> int | None:
        return None if self.hours_ago is None else int(start - self.hours_ago * 3600)

    def texts(self) -> list[str]:
        return [f"{self.name} says {n}" for n in range(1, MESSAGES + 1)]

    def replies(self) -> list[str]:
        return [f"Answer {k} for {self.name}" for k in range(1, len(ANSWER_AFTER) + 1)]


CUSTOMERS = (
    Customer("4915110000001", "Ada"),
    Customer("4915110000002", "Ben"),
    Customer("4915110000003", "Cleo", hours_ago=22.5),  # 1 h 30 min left: the 2 h mark
    Customer("4915110000004", "Dan", hours_ago=23.6),  # 24 min left: the 30 min mark
)
#: Writes last: her warning proves a scan ran after the others' warnings were posted.
LATE = Customer("4915110000005", "Eve", hours_ago=23.6)
WARNED = {"Cleo", "Dan", "Eve"}


def _thread_of(box: Sandbox, name: str) -> str | None:
    parents = [m for m in box.slack.top_level(CHANNEL) if f"*{name}*" in (m.text or "")]
    return parents[0].ts if parents else None


def _customer_posts(box: Sandbox, customer: Customer) -> list[str]:
    thread_ts = _thread_of(box, customer.name)
    if thread_ts is None:
        return []
    mine = re.compile(rf"^{customer.name} says \d+$")
    return [t for t in thread_texts(box, thread_ts) if mine.match(t or "")]


def _warnings(box: Sandbox, name: str) -> list[str]:
    thread_ts = _thread_of(box, name)
    if thread_ts is None:
        return []
    return [t for t in thread_texts(box, thread_ts) if "window closes in" in (t or "")]


def _sent_to(box: Sandbox, customer: Customer) -> list[str]:
    return [
        m["text"]["body"]
        for m in box.meta.sent_messages()
        if m["to"] == customer.wa_id and m.get("type") == "text"
    ]


def _converse(box: Sandbox, customer: Customer, start: float) -> None:
    """The customer writes her messages one after the other; the agent answers in her thread
    after some of them, once her first message shows there (as a person would: see
    docs/operations.md, "Fault runs", on a reply in a thread the bridge has not recorded yet)."""
    replies = iter(customer.replies())
    for n, text in enumerate(customer.texts(), start=1):
        box.meta.send_text(customer.wa_id, customer.name, text, timestamp=customer.timestamp(start))
        if n in ANSWER_AFTER:
            assert box.slack.wait_for(lambda: bool(_customer_posts(box, customer)), timeout=60)
            thread_ts = _thread_of(box, customer.name)
            assert thread_ts is not None
            answered = box.slack.agent_reply(
                channel=CHANNEL, thread_ts=thread_ts, text=next(replies)
            )
            assert answered.status == 200


@pytest.mark.skipif(not USE_POSTGRES, reason="several processes of each role need PostgreSQL")
@pytest.mark.long
def test_two_web_two_worker_two_scheduler_processes_on_one_database(
    tmp_path: Path, migrated_database_url: str
) -> None:
    box = Sandbox(
        workdir=tmp_path / "run", database_url=migrated_database_url, extra_env=ENV, roles=ROLES
    )
    with box:
        start = time.time()
        with ThreadPoolExecutor(len(CUSTOMERS)) as pool:
            for done in [pool.submit(_converse, box, c, start) for c in CUSTOMERS]:
                done.result()

        def all_through() -> bool:
            return all(
                len(_customer_posts(box, c)) >= MESSAGES
                and len(_sent_to(box, c)) >= len(ANSWER_AFTER)
                for c in CUSTOMERS
            ) and all(_warnings(box, c.name) for c in CUSTOMERS if c.name in WARNED)

        assert box.slack.wait_for(all_through, timeout=60)
        # A last customer, whose message comes 23.6 h late: her window is written already
        # past its 30 min mark, where no scan saw it cross. A later scan's sweep finds it,
        # passing over the windows already warned (within two rounds of a scheduler's sweep,
        # and the two take turns to scan).
        box.meta.send_text(LATE.wa_id, LATE.name, "Still there?", timestamp=LATE.timestamp(start))
        assert box.slack.wait_for(lambda: bool(_warnings(box, LATE.name)), timeout=60)
        assert box.wait_idle(timeout=60)

        for customer in CUSTOMERS:
            assert _customer_posts(box, customer) == customer.texts(), customer.name
            assert _sent_to(box, customer) == customer.replies(), customer.name
        assert len(box.meta.sent_messages()) == len(CUSTOMERS) * len(ANSWER_AFTER)
        for customer in (*CUSTOMERS, LATE):
            parents = [
                m for m in box.slack.top_level(CHANNEL) if f"*{customer.name}*" in (m.text or "")
            ]
            assert len(parents) == 1, customer.name  # one thread per conversation
            expected = 1 if customer.name in WARNED else 0
            assert len(_warnings(box, customer.name)) == expected, customer.name
        assert re.search(r"closes in 1 h \d+ min \(", _warnings(box, "Cleo")[0])  # 2 h mark
        assert re.search(r"closes in \d+ min \(", _warnings(box, "Dan")[0])  # 30 min mark

        # Nothing was refused or failed on the way.
        assert {status for _, status in box.meta.webhook_deliveries()} == {200}
        assert {e.status for e in box.slack.events()} == {200}
        assert not [k for k, v in box.work().items() if k.startswith("wabridge_failed") and v]

        assert [p.role for p in box.processes if p.running] == list(ROLES)  # none died
        # The balancer spread Meta's webhooks and Slack's events over both web processes.
        assert box.balancer is not None
        for served in box.balancer.served():
            assert served["POST /webhooks/whatsapp"] > 0, box.balancer.served()
            assert served["POST /slack/events"] > 0, box.balancer.served()
