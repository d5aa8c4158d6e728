"""The lifecycle table of API.md, and the stage order of advance_stage."""

from __future__ import annotations

import itertools

import pytest

from application.domain.codes import CROCKFORD, new_tracking_code, registration_number
from application.domain.exceptions import IllegalTransition
from application.domain.forms import get_path, set_path
from application.domain.lifecycle import (
    TRANSITIONS,
    Action,
    StageRef,
    Status,
    next_stage,
    transition,
)

ALLOWED = {
    (Status.DRAFT, Action.SUBMIT): Status.SUBMITTED,
    (Status.SUBMITTED, Action.START_REVIEW): Status.IN_REVIEW,
    (Status.IN_REVIEW, Action.ADVANCE_STAGE): Status.IN_REVIEW,
    (Status.IN_REVIEW, Action.APPROVE): Status.APPROVED,
    (Status.APPROVED, Action.COMPLETE): Status.COMPLETED,
    (Status.IN_REVIEW, Action.REQUEST_REVISION): Status.REVISION_REQUESTED,
    (Status.REVISION_REQUESTED, Action.SUBMIT): Status.SUBMITTED,
    (Status.IN_REVIEW, Action.REJECT): Status.REJECTED,
    (Status.SUBMITTED, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.IN_REVIEW, Action.WITHDRAW): Status.WITHDRAWN,
    (Status.REVISION_REQUESTED, Action.WITHDRAW): Status.WITHDRAWN,
}


def test_the_table_is_exactly_api_mds_lifecycle() -> None:
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("status", "action"), list(ALLOWED))
def test_allowed_moves(status: Status, action: Action) -> None:
    assert transition(status, action) is ALLOWED[(status, action)]


@pytest.mark.parametrize(
    ("status", "action"),
    [pair for pair in itertools.product(Status, Action) if pair not in ALLOWED],
)
def test_every_other_move_is_illegal(status: Status, action: Action) -> None:
    with pytest.raises(IllegalTransition) as raised:
        transition(status, action)
    assert raised.value.code == "illegal_transition"
    assert raised.value.status == 409


STAGES = [
    StageRef("verifikasi", "Verifikasi"),
    StageRef("cetak", "Cetak"),
    StageRef("serah", "Serah"),
]


def test_stages_advance_in_order() -> None:
    assert next_stage(STAGES, None, None).code == "verifikasi"
    assert next_stage(STAGES, "verifikasi", None).code == "cetak"
    assert next_stage(STAGES, "verifikasi", "cetak").code == "cetak"


@pytest.mark.parametrize(
    ("current", "wanted"), [("verifikasi", "serah"), ("cetak", "verifikasi"), ("serah", None)]
)
def test_a_skipped_repeated_or_missing_stage_is_illegal(current: str, wanted: str | None) -> None:
    with pytest.raises(IllegalTransition):
        next_stage(STAGES, current, wanted)


def test_registration_numbers_read_out_at_a_counter() -> None:
    assert registration_number(region_code="64.09", year=2026, serial=123) == "64.09-2026-000123"


def test_tracking_codes_are_ten_crockford_characters() -> None:
    codes = {new_tracking_code() for _ in range(1000)}
    assert len(codes) == 1000
    assert all(len(c) == 10 and set(c) <= set(CROCKFORD) for c in codes)
    assert not set("ILOU") & set(CROCKFORD)


def test_prefill_paths() -> None:
    form: dict[str, object] = {"nik": "1"}
    set_path(form, "address.village", "Sempaja")
    set_path(form, "nik.part", "ignored")  # through a value that is not an object: left alone
    assert form == {"nik": "1", "address": {"village": "Sempaja"}}
    assert get_path({"address": {"village": "Sempaja"}}, "address.village") == "Sempaja"
    assert get_path({"address.village": "flat"}, "address.village") == "flat"
    assert get_path({}, "address.village") is None
