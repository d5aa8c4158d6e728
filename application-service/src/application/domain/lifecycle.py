"""The lifecycle of an application (API.md): a table of allowed transitions and nothing else.

Every change of status goes through :func:`transition`; a pair that is not in the table is an
:class:`IllegalTransition` and nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from application.domain.exceptions import IllegalTransition


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    REVISION_REQUESTED = "revision_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Action(StrEnum):
    # The owner's.
    SUBMIT = "submit"
    WITHDRAW = "withdraw"
    # The agency's (``POST /api/v1/agency/applications/{id}/actions``).
    START_REVIEW = "start_review"
    ADVANCE_STAGE = "advance_stage"
    REQUEST_REVISION = "request_revision"
    APPROVE = "approve"
    REJECT = "reject"
    COMPLETE = "complete"


AGENCY_ACTIONS: frozenset[Action] = frozenset(
    {
        Action.START_REVIEW,
        Action.ADVANCE_STAGE,
        Action.REQUEST_REVISION,
        Action.APPROVE,
        Action.REJECT,
        Action.COMPLETE,
    }
)

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.DRAFT, Action.SUBMIT): Status.SUBMITTED,
    (Status.REVISION_REQUESTED, Action.SUBMIT): Status.SUBMITTED,
    (Status.SUBMITTED, Action.START_REVIEW): Status.IN_REVIEW,
    (Status.IN_REVIEW, Action.ADVANCE_STAGE): Status.IN_REVIEW,
    (Status.IN_REVIEW, Action.REQUEST_REVISION): Status.REVISION_REQUESTED,
    (Status.IN_REVIEW, Action.APPROVE): Status.APPROVED,
    (Status.IN_REVIEW, Action.REJECT): Status.REJECTED,
    (Status.APPROVED, Action.COMPLETE): Status.COMPLETED,
    (Status.SUBMITTED, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.IN_REVIEW, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.REVISION_REQUESTED, Action.WITHDRAW): Status.WITHDRAWN,
}

# Once decided, the SLA clock stops: never overdue again.
DECIDED: frozenset[Status] = frozenset(
    {Status.APPROVED, Status.REJECTED, Status.COMPLETED, Status.WITHDRAWN}
)
# The SLA clock runs only here: it has not started in a draft, it is paused while the citizen
# revises (API.md: that time does not count), and it stops with a decision.
CLOCK_RUNNING: frozenset[Status] = frozenset({Status.SUBMITTED, Status.IN_REVIEW})
# The owner may edit the form and the documents only here.
EDITABLE: frozenset[Status] = frozenset({Status.DRAFT, Status.REVISION_REQUESTED})


def transition(status: Status, action: Action) -> Status:
    """The status after ``action``; :class:`IllegalTransition` when the table has no such move."""
    after = TRANSITIONS.get((status, action))
    if after is None:
        raise IllegalTransition(status=status.value, action=action.value)
    return after


@dataclass(frozen=True)
class StageRef:
    code: str
    name: str


def next_stage(stages: Sequence[StageRef], current: str | None, wanted: str | None) -> StageRef:
    """The stage ``advance_stage`` moves to: the one after ``current`` in the version's order.

    ``wanted`` (optional) must be exactly that stage: a skip, a step back or a code beyond the
    last stage is illegal.
    """
    codes = [stage.code for stage in stages]
    index = codes.index(current) + 1 if current in codes else 0
    if index >= len(stages):
        raise IllegalTransition(
            status=Status.IN_REVIEW.value,
            action=Action.ADVANCE_STAGE.value,
            detail="Tahap terakhir layanan ini sudah tercapai.",
        )
    target = stages[index]
    if wanted is not None and wanted != target.code:
        raise IllegalTransition(
            status=Status.IN_REVIEW.value,
            action=Action.ADVANCE_STAGE.value,
            detail=f"Tahap berikutnya adalah '{target.code}', bukan '{wanted}'.",
        )
    return target
