"""The CSV of extra residents (``DUKCAPIL_MOCK_DATASET``) and the demo dataset that ships."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from identity.dukcapil.dataset import (
    DATASET_COLUMNS,
    DatasetError,
    DatasetResident,
    read_dataset,
)
from identity.dukcapil.faces import fingerprint, render_portrait_jpeg
from identity.dukcapil.nik import parse_nik
from mpp_shared.reference import regions

DEMO = Path(__file__).resolve().parents[2] / "demo"
DEMO_REGENCIES = {"64.09", "11.74", "64.72", "35.74", "12.09"}

GOOD_ROW = {
    "nik": "6409011203850001",
    "kk_number": "6409011405150002",
    "full_name": "  budi   santoso ",
    "birth_place": "BLITAR",
    "birth_date": "1985-03-12",
    "gender": "L",
    "blood_type": "",
    "religion": "ISLAM",
    "marital_status": "KAWIN",
    "occupation": "WIRASWASTA",
    "street": "JL. PROVINSI NO. 1",
    "rt": "7",
    "rw": "02",
    "village": "",
    "district": "",
    "regency": "",
    "province": "",
    "region_code": "64.09.01.1011",
    "photo": "",
}


def _write(folder: Path, *rows: dict[str, str], columns: tuple[str, ...] = DATASET_COLUMNS) -> Path:
    path = folder / "residents.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_row_becomes_a_resident_with_region_names_filled_in(tmp_path: Path) -> None:
    [entry] = read_dataset(_write(tmp_path, GOOD_ROW))

    resident = entry.resident
    assert resident.nik == "6409011203850001"
    assert resident.full_name == "budi santoso"
    assert resident.rt == "007"
    assert resident.rw == "002"
    assert resident.blood_type == "-"
    assert resident.village == "PENAJAM"
    assert resident.district == "PENAJAM"
    assert resident.regency == "KABUPATEN PENAJAM PASER UTARA"
    assert resident.province == "KALIMANTAN TIMUR"
    assert entry.photo is None


def test_a_file_with_a_byte_order_mark_reads_the_same(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD_ROW)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    [entry] = read_dataset(path)

    assert entry.resident.nik == "6409011203850001"
    assert entry.resident.village == "PENAJAM"


def test_loading_leaves_no_index_of_every_village_in_memory(tmp_path: Path) -> None:
    # Read at every start: an index of all villages would stay in the service's memory.
    regions._index.cache_clear()

    read_dataset(_write(tmp_path, GOOD_ROW))

    # The district, regency and province indexes (a few thousand regions) only.
    assert regions._index.cache_info().currsize == 3


def test_a_photo_is_read_relative_to_the_csv(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    photo = render_portrait_jpeg(GOOD_ROW["nik"])
    (tmp_path / "photos" / "budi.jpg").write_bytes(photo)

    [entry] = read_dataset(_write(tmp_path, GOOD_ROW | {"photo": "photos/budi.jpg"}))

    assert entry.photo == photo


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nik": "6409011203850"}, "nik: a NIK has 16 digits"),
        ({"nik": "9909011203850001"}, "nik: the first six digits"),
        ({"gender": "P"}, "gender: the NIK says otherwise"),
        ({"gender": "X"}, "gender: L or P"),
        ({"birth_date": "1985-03-13"}, "birth_date: the NIK's DDMMYY"),
        ({"birth_date": "12/03/1985"}, "birth_date: not a YYYY-MM-DD"),
        ({"kk_number": "64090114051500"}, "kk_number"),
        ({"region_code": "64.09.01"}, "region_code"),
        ({"region_code": "64.09.01.9999"}, "region_code"),
        ({"rt": "RT1"}, "rt:"),
        ({"full_name": " "}, "full_name: empty"),
        ({"photo": "photos/missing.jpg"}, "photo: photos/missing.jpg cannot be read"),
        ({"photo": "/etc/hostname"}, "photo: a path relative to the CSV"),
    ],
)
def test_a_bad_row_stops_the_load_naming_its_line(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    other = GOOD_ROW | {"nik": "6409016407880001", "birth_date": "1988-07-24", "gender": "P"}
    path = _write(tmp_path, other, GOOD_ROW | change)

    with pytest.raises(DatasetError) as raised:
        read_dataset(path)

    assert "line 3" in str(raised.value)
    assert message in str(raised.value)


def test_a_photo_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    (tmp_path / "note.jpg").write_text("not a picture")

    with pytest.raises(DatasetError, match=r"photo: note\.jpg"):
        read_dataset(_write(tmp_path, GOOD_ROW | {"photo": "note.jpg"}))


def test_a_nik_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="NIK repeats line 2"):
        read_dataset(_write(tmp_path, GOOD_ROW, GOOD_ROW))


def test_a_missing_column_is_refused(tmp_path: Path) -> None:
    columns = tuple(c for c in DATASET_COLUMNS if c != "photo")

    with pytest.raises(DatasetError, match="missing columns photo"):
        read_dataset(_write(tmp_path, GOOD_ROW, columns=columns))


def test_a_missing_file_is_a_dataset_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="cannot be read"):
        read_dataset(tmp_path / "nothing.csv")


# --- the demo dataset ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> list[DatasetResident]:
    return read_dataset(DEMO / "residents.csv")


def test_the_demo_dataset_loads_with_a_photo_for_everyone(demo: list[DatasetResident]) -> None:
    assert 6 <= len(demo) <= 8
    for entry in demo:
        assert entry.photo is not None
        fingerprint(entry.photo)  # decodes


def test_the_demo_residents_cover_every_demo_region_women_and_men(
    demo: list[DatasetResident],
) -> None:
    residents = [entry.resident for entry in demo]

    assert {r.region_code[:5] for r in residents} == DEMO_REGENCIES
    assert {r.gender for r in residents} == {"L", "P"}
    households = Counter(r.kk_number for r in residents)
    assert 3 in households.values()


def test_the_demo_photos_are_small_files() -> None:
    photos = sorted((DEMO / "photos").glob("*.jpg"))

    assert len(photos) >= 6
    assert all(photo.stat().st_size < 30 * 1024 for photo in photos)


def test_the_demo_readme_lists_every_demo_resident(demo: list[DatasetResident]) -> None:
    readme = (DEMO / "README.md").read_text(encoding="utf-8")

    for entry in demo:
        resident = entry.resident
        assert resident.nik in readme
        assert resident.full_name in readme
        assert resident.birth_date.isoformat() in readme
        parse_nik(resident.nik)
