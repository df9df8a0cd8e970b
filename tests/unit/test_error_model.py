"""The error model end to end, without I/O: every Meta code NOTES.md lists has a meaning for
the job, a line for the agent, and (where one click can help) a next step."""

from __future__ import annotations

import pytest

from bridge.domain import DeliveryProblem, FailureKind, NextStep, next_step_after
from slack_app.messages.problems import advice
from tests.unit.whatsapp.test_errors import NOTES_NEVER_RETRY, NOTES_RETRY
from whatsapp.errors import CLASSIFICATION, problem_of

_DEFAULT_ADVICE = advice(None)


@pytest.mark.parametrize("code", sorted({*NOTES_RETRY, *NOTES_NEVER_RETRY}))
def test_every_listed_code_has_a_kind_and_its_own_advice(code: int) -> None:
    kind, problem = CLASSIFICATION[code]
    assert isinstance(kind, FailureKind)
    assert problem_of(code) == problem
    assert advice(problem) != _DEFAULT_ADVICE


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (131047, ["template"]),
        (131026, ["cannot receive WhatsApp messages"]),
        (190, ["access token", "expired", "admin must renew"]),
        (132001, ["template does not exist in this language"]),
        (131049, ["held back", "marketing", "limit"]),
        (131053, ["could not upload or download"]),
    ],
)
def test_the_issue_s_examples_tell_the_agent_what_happened(code: int, words: list[str]) -> None:
    line = advice(CLASSIFICATION[code][1]).casefold()
    for word in words:
        assert word.casefold() in line


def test_the_template_language_and_media_codes_have_problems_of_their_own() -> None:
    assert CLASSIFICATION[132001][1] != CLASSIFICATION[132000][1]
    assert CLASSIFICATION[131053][1] != CLASSIFICATION[131052][1]
    assert len({advice(CLASSIFICATION[c][1]) for c in (132000, 132001, 131052, 131053)}) == 4


@pytest.mark.parametrize(
    ("code", "kind", "problem"),
    [
        (131000, FailureKind.TRANSIENT, DeliveryProblem.TEMPORARY),
        (130429, FailureKind.THROTTLED, DeliveryProblem.THROTTLED),
        (80007, FailureKind.THROTTLED, DeliveryProblem.THROTTLED),
        (4, FailureKind.THROTTLED, DeliveryProblem.THROTTLED),
        (131056, FailureKind.THROTTLED, DeliveryProblem.RECIPIENT_THROTTLED),
        (131047, FailureKind.PERMANENT, DeliveryProblem.WINDOW_CLOSED),
        (132000, FailureKind.PERMANENT, DeliveryProblem.TEMPLATE),
        (131026, FailureKind.PERMANENT, DeliveryProblem.UNDELIVERABLE),
        (190, FailureKind.AUTH, DeliveryProblem.CREDENTIALS),
        (368, FailureKind.PERMANENT, DeliveryProblem.POLICY_BLOCK),
    ],
)
def test_each_failure_kind_of_the_issue_is_expressed(
    code: int, kind: FailureKind, problem: DeliveryProblem
) -> None:
    assert CLASSIFICATION[code] == (kind, problem)


@pytest.mark.parametrize(
    ("problem", "kind", "step"),
    [
        (DeliveryProblem.WINDOW_CLOSED, FailureKind.PERMANENT, NextStep.SEND_TEMPLATE),
        (DeliveryProblem.WINDOW_CLOSED, None, NextStep.SEND_TEMPLATE),  # a failed status
        (DeliveryProblem.TEMPORARY, FailureKind.TRANSIENT, NextStep.RETRY),
        (DeliveryProblem.THROTTLED, FailureKind.THROTTLED, NextStep.RETRY),
        (DeliveryProblem.RECIPIENT_THROTTLED, None, NextStep.RETRY),
        (DeliveryProblem.UNKNOWN_OUTCOME, FailureKind.UNKNOWN_OUTCOME, NextStep.SEND_AGAIN),
        (None, FailureKind.UNKNOWN_OUTCOME, NextStep.SEND_AGAIN),
        (None, FailureKind.TRANSIENT, NextStep.RETRY),  # a bridge-side failure that kept on
        (DeliveryProblem.UNDELIVERABLE, FailureKind.PERMANENT, None),
        (DeliveryProblem.TEMPLATE_LANGUAGE, FailureKind.PERMANENT, None),
        (DeliveryProblem.EARLIER_PART_FAILED, FailureKind.PERMANENT, None),
        (DeliveryProblem.CREDENTIALS, None, None),
        (None, FailureKind.PERMANENT, None),
        (None, None, None),
    ],
)
def test_the_core_decides_the_next_step(
    problem: DeliveryProblem | None, kind: FailureKind | None, step: NextStep | None
) -> None:
    assert next_step_after(problem, kind) == step


@pytest.mark.parametrize("code", sorted(CLASSIFICATION))
def test_a_code_offers_the_same_step_refused_at_once_or_reported_later(code: int) -> None:
    # At once the worker knows the kind too; a late `failed` status only knows the code.
    kind, problem = CLASSIFICATION[code]
    assert next_step_after(problem, kind) == next_step_after(problem_of(code))
