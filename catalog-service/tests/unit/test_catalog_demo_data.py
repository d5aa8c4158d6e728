"""The demo catalogue: every named agency in every demo region, every service publishable."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from catalog.demo.data import (
    DEMO_AGENCIES,
    DEMO_REGIONS,
    SAMARINDA_KTP_EL_ID,
    demo_ids,
    demo_service_id,
)
from catalog.domain.form_schema import check_form
from catalog.domain.models import ServiceFields
from catalog.domain.services import _check_complete
from mpp_shared.reference.regions import get_region

NAMED = [
    "Kependudukan dan Pencatatan Sipil",
    "Badan Pengelolaan Keuangan Daerah",
    "Dinas Ketenagakerjaan",
    "Pelayanan Terpadu Satu Pintu",
    "Kantor Imigrasi",
    "Bea dan Cukai",
    "Perumda Air Minum",
    "BPJS Kesehatan",
    "BPJS Ketenagakerjaan",
]


@pytest.mark.parametrize("region", DEMO_REGIONS, ids=lambda r: r.code)
def test_every_demo_region_has_the_agencies_of_the_seed_stories(region: object) -> None:
    names = [agency.name(region) for agency in DEMO_AGENCIES]  # type: ignore[arg-type]
    for named in NAMED:
        assert any(named in name for name in names), named


def test_bank_aceh_serves_langsa() -> None:
    langsa = next(region for region in DEMO_REGIONS if region.code == "11.74")
    assert "Bank Aceh" in langsa.bank


def test_demo_regions_are_real_regencies() -> None:
    for region in DEMO_REGIONS:
        found = get_region(region.code)
        assert found is not None
        assert found.name == region.place


@pytest.mark.parametrize(
    ("agency", "service"),
    [(agency, service) for agency in DEMO_AGENCIES for service in agency.services],
    ids=lambda item: getattr(item, "code", getattr(item, "key", "")),
)
def test_every_demo_service_is_complete_with_a_valid_form(agency: object, service: object) -> None:
    for region in DEMO_REGIONS:
        fields = ServiceFields.model_validate(service.build(region))  # type: ignore[attr-defined]
        check_form(fields.form_schema, fields.prefill)
        _check_complete(fields)
        assert fields.requirements
        assert fields.sla_working_days is not None


def test_demo_ids_are_stable_and_unique() -> None:
    # Other services' demo data refers to this id: it must never change.
    assert demo_service_id("64.72", "dukcapil", "ktp-el") == SAMARINDA_KTP_EL_ID
    assert (
        uuid.uuid5(
            uuid.UUID("6d7a3c1e-8f2b-5c4d-9e0a-1b2c3d4e5f60"), "service:64.72:dukcapil:ktp-el"
        )
        == SAMARINDA_KTP_EL_ID
    )
    ids = [item[2] for item in demo_ids()]
    assert len(ids) == len(set(ids))


def test_demo_ids_document_is_up_to_date() -> None:
    document = (Path(__file__).resolve().parents[2] / "DEMO_IDS.md").read_text()
    for kind, name, demo_id in demo_ids():
        assert f"| {kind} | `{demo_id}` | {name} |" in document, name
