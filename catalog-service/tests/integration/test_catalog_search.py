"""Search and reads over the demo catalogue: Indonesian words, typos, filters, pages, caching."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from catalog.db import queries
from catalog.db.tables import ServiceVersionRow
from catalog.demo.data import (
    DEMO_REGIONS,
    SAMARINDA_AKTA_KELAHIRAN_ID,
    SAMARINDA_DUKCAPIL_ID,
    SAMARINDA_KTP_EL_ID,
    demo_agency_id,
    demo_location_id,
    demo_service_id,
)
from catalog.demo.loader import load_demo_data
from catalog.domain.regions import region_keys_for_filter
from catalog.runtime import CatalogRuntime
from mpp_shared.events.tables import outbox


@pytest.fixture(scope="module")
async def client(catalog_app_client: Callable[..., Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with catalog_app_client(seed_demo_data=True) as opened:
        yield opened


async def _search(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/services", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["name"] for item in await _search(client, **params)]


# --- relevance --------------------------------------------------------------------------------


async def test_keyword_finds_ktp_el_first(client: httpx.AsyncClient) -> None:
    names = await _names(client, q="ktp", region_code="64.72")
    assert names[0] == "Penerbitan KTP-el"


async def test_stemming_finds_kelahiran_from_lahir(client: httpx.AsyncClient) -> None:
    # "kelahiran" is stored as the stem "lahir": the citizen's shorter word finds it.
    items = await _search(client, q="akta lahir", region_code="64.72")
    assert items[0]["id"] == str(SAMARINDA_AKTA_KELAHIRAN_ID)


async def test_affixed_word_finds_its_stem(client: httpx.AsyncClient) -> None:
    # "pendaftaran" and "daftar" share the stem: either finds the JKN registration.
    for query in ("daftar bpjs kesehatan", "pendaftaran bpjs kesehatan"):
        names = await _names(client, q=query, region_code="64.72")
        assert names[0] == "Pendaftaran Peserta JKN-KIS Mandiri", query


async def test_typo_still_finds_the_service(client: httpx.AsyncClient) -> None:
    assert "Penerbitan Paspor Biasa" in await _names(client, q="pasport", region_code="64.72")


async def test_prefix_finds_while_typing(client: httpx.AsyncClient) -> None:
    names = await _names(client, q="pasp", region_code="64.72")
    assert names[0] == "Penerbitan Paspor Biasa"


async def test_name_match_ranks_above_a_description_match(client: httpx.AsyncClient) -> None:
    # "Kartu Keluarga" is the name of one service and only in the description of another.
    names = await _names(client, q="kartu keluarga", region_code="64.72")
    assert names[0] == "Penerbitan Kartu Keluarga"
    assert "Penerbitan Akta Kematian" in names[1:]


async def test_words_that_match_nothing_find_nothing(client: httpx.AsyncClient) -> None:
    assert await _search(client, q="zzzqqq xxyy") == []


# --- filters ----------------------------------------------------------------------------------


async def test_regency_filter_includes_province_wide_services_and_no_other_regency(
    client: httpx.AsyncClient,
) -> None:
    items = await _search(client, region_code="64.72")
    regions = {code for item in items for code in item["region_codes"]}
    assert regions == {"64.72", "64"}  # Samarinda's own, and Kalimantan Timur's
    ids = {item["id"] for item in items}
    assert str(SAMARINDA_KTP_EL_ID) in ids
    assert str(demo_service_id("64.09", "imigrasi", "paspor")) in ids  # province-wide
    assert str(demo_service_id("11.74", "dukcapil", "ktp-el")) not in ids


async def test_district_filter_finds_its_regencys_services(client: httpx.AsyncClient) -> None:
    ids = {item["id"] for item in await _search(client, region_code="64.72.01")}
    assert str(SAMARINDA_KTP_EL_ID) in ids


async def test_agency_category_and_channel_filters(client: httpx.AsyncClient) -> None:
    own = await _search(client, agency_id=str(SAMARINDA_DUKCAPIL_ID))
    assert {item["agency_id"] for item in own} == {str(SAMARINDA_DUKCAPIL_ID)}
    assert len(own) == 5
    immigration = await _search(client, category="keimigrasian")
    assert len(immigration) == 5
    assert {item["category"] for item in immigration} == {"keimigrasian"}
    online_only = await _search(client, channel="counter", region_code="64.72")
    assert all("counter" in item["channels"] for item in online_only)
    assert "Validasi Bea Perolehan Hak atas Tanah dan Bangunan (BPHTB)" not in [
        item["name"] for item in online_only
    ]


async def test_search_combines_words_and_filters(client: httpx.AsyncClient) -> None:
    items = await _search(client, q="ktp", agency_id=str(demo_agency_id("11.74", "dukcapil")))
    assert [item["id"] for item in items][:1] == [
        str(demo_service_id("11.74", "dukcapil", "ktp-el"))
    ]


# --- pages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{"q": "bpjs"}, {"category": "kependudukan"}, {}])
async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    everything = [item["id"] for item in await _search(client, **params)]
    paged: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/services", params=query)).json()
        paged.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == everything
    assert len(set(paged)) == len(paged) > 7


async def test_foreign_cursor_is_422(client: httpx.AsyncClient) -> None:
    regions = (await client.get("/api/v1/regions", params={"limit": 1})).json()
    response = await client.get(
        "/api/v1/services", params={"q": "ktp", "cursor": regions["next_cursor"]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


async def test_list_answers_304_to_its_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/v1/services", params={"q": "paspor"})
    again = await client.get(
        "/api/v1/services", params={"q": "paspor"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    other = await client.get(
        "/api/v1/services", params={"q": "ktp"}, headers={"If-None-Match": first.headers["etag"]}
    )
    assert other.status_code == 200


# --- the search statement ---------------------------------------------------------------------

# The ranking as first written, plainly over every listed service: a service matching all the
# words (stemmed) before one matching them as prefixes, then the weighted text rank, then id;
# and only when nothing matches the words, near spellings of name and keywords.
REFERENCE_WORDS = """
SELECT id FROM (
    SELECT id, ((CASE WHEN search_vector @@ websearch_to_tsquery('indonesian', $1)
                 THEN 2 ELSE 1 END)
                + ts_rank(search_vector, to_tsquery('indonesian', $2)))::float8 AS rank
    FROM services
    WHERE status = 'published' AND search_vector @@ to_tsquery('indonesian', $2) {filters}
) matched ORDER BY rank DESC, id DESC
"""
REFERENCE_NEAR_SPELLINGS = """
SELECT id FROM (
    SELECT id, word_similarity($1, search_text)::float8 AS rank
    FROM services WHERE status = 'published' AND $1 <% search_text {filters}
) matched ORDER BY rank DESC, id DESC
"""


def _filter_conditions(filters: dict[str, Any], first: int) -> tuple[str, list[Any]]:
    """``AND ...`` conditions for the filters, numbering their parameters from ``first``."""
    where = queries.ServiceFilter(**filters)
    region_keys = region_keys_for_filter(where.region_code) if where.region_code else None
    sql = ""
    args: list[Any] = []
    for condition, value in (
        ("agency_id = ${}", where.agency_id),
        ("category = ${}", where.category),
        ("channels @> ARRAY[${}]::text[]", where.channel),
        ("region_keys && ${}::text[]", region_keys),
    ):
        if value is not None:
            args.append(value)
            sql += " AND " + condition.format(first + len(args) - 1)
    return sql, args


async def _reference(pool: Any, q: str, filters: dict[str, Any]) -> list[str]:
    words = q.strip().lower()
    conditions, args = _filter_conditions(filters, first=3)
    rows = await pool.fetch(
        REFERENCE_WORDS.format(filters=conditions), words, queries.prefix_query(q), *args
    )
    if not rows:
        conditions, args = _filter_conditions(filters, first=2)
        rows = await pool.fetch(REFERENCE_NEAR_SPELLINGS.format(filters=conditions), words, *args)
    return [str(row["id"]) for row in rows]


async def _all_pages(client: httpx.AsyncClient, limit: int, **params: Any) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/services", params=query)).json()
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def _read_pool(client: httpx.AsyncClient) -> Any:
    """The app's asyncpg pool, under its queue."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime.state_as(CatalogRuntime).open_read_pool().pool


@pytest.mark.parametrize(
    "q",
    [
        "ktp",
        "akta lahir",
        "kartu keluarga",
        "pasp",
        "pasport",
        "daftar bpjs kesehatan",
        "izin",
        "e-ktp",
        "ktp -digital",
        '"akta kelahiran"',
        "kk or ktp",
        "pelayanan",
        "zzzqqq",
    ],
)
@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"region_code": "64.72"},
        {"category": "kependudukan"},
        {"agency_id": SAMARINDA_DUKCAPIL_ID},
        {"channel": "counter", "region_code": "64"},
    ],
)
async def test_ranking_is_the_plain_reference_ranking_page_after_page(
    client: httpx.AsyncClient, q: str, filters: dict[str, Any]
) -> None:
    expected = await _reference(_read_pool(client), q, filters)
    params = {key: str(value) for key, value in filters.items()}
    assert await _all_pages(client, 3, q=q, **params) == expected


class _Recorder:
    """Runs the statements of a search and keeps them, to explain them afterwards."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.statements.append((query, args))
        return list(await self.connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> Any:
        raise AssertionError("search fetches rows")


async def _explained(client: httpx.AsyncClient, q: str) -> str:
    async with _read_pool(client).acquire() as connection:
        recorder = _Recorder(connection)
        await queries.search_services(
            recorder, where=queries.ServiceFilter(q=q), limit=20, cursor=None
        )
        [(statement, args)] = recorder.statements
        # The demo catalogue fits in a few pages, where reading them all is cheapest; what
        # matters is that the index can answer the words (no vector built while searching).
        async with connection.transaction():
            await connection.execute("SET LOCAL enable_seqscan = off")
            rows = await connection.fetch("EXPLAIN (ANALYZE, COSTS OFF) " + statement, *args)
    return "\n".join(row[0] for row in rows)


async def test_words_are_looked_up_in_the_index_and_typos_are_not_tried(
    client: httpx.AsyncClient,
) -> None:
    plan = await _explained(client, "akta lahir")
    assert "Bitmap Index Scan on ix_service_search_search_vector" in plan
    near_spellings = [line for line in plan.splitlines() if "service_search_texts" in line]
    assert near_spellings
    assert all("never executed" in line for line in near_spellings)


async def test_typo_is_compared_with_distinct_texts_through_their_index(
    client: httpx.AsyncClient,
) -> None:
    plan = await _explained(client, "pasport")
    [near_spellings] = [line for line in plan.splitlines() if "on service_search_texts" in line]
    assert "Bitmap Heap Scan" in near_spellings
    assert "never executed" not in near_spellings
    assert "Index Scan on ix_service_search_texts_trgm" in plan


async def test_search_indexes_keep_no_pending_list(client: httpx.AsyncClient) -> None:
    rows = await _read_pool(client).fetch(
        "SELECT c.relname, c.reloptions FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_am am ON am.oid = c.relam WHERE am.amname = 'gin'"
        " AND i.indrelid IN ('service_search'::regclass, 'service_search_texts'::regclass,"
        " 'services'::regclass)"
    )
    assert {row["relname"] for row in rows} == {
        "ix_service_search_search_vector",
        "ix_service_search_region_keys",
        "ix_service_search_texts_trgm",
        "ix_services_region_keys",
    }
    assert all("fastupdate=off" in (row["reloptions"] or []) for row in rows)


# --- regions, agencies, locations -------------------------------------------------------------


async def test_regions_by_parent_and_level(client: httpx.AsyncClient) -> None:
    provinces = await client.get("/api/v1/regions", params={"level": "province", "limit": 100})
    assert len(provinces.json()["items"]) == 38
    districts = (await client.get("/api/v1/regions", params={"parent": "64.72"})).json()["items"]
    assert {d["level"] for d in districts} == {"district"}
    assert "Samarinda Ulu" in {d["name"] for d in districts}
    villages = await client.get("/api/v1/regions", params={"parent": "64.72.01", "limit": 100})
    assert villages.json()["items"]
    one = (await client.get("/api/v1/regions/64.72")).json()
    assert one == {
        "code": "64.72",
        "name": "Kota Samarinda",
        "level": "regency",
        "parent_code": "64",
    }
    assert (await client.get("/api/v1/regions/64.99")).status_code == 404


async def test_every_regency_of_indonesia_is_loaded(client: httpx.AsyncClient) -> None:
    count = 0
    cursor: str | None = None
    while True:
        params = {"level": "regency", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/regions", params=params)).json()
        count += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert count == 514


async def test_agencies_by_region_and_kind(client: httpx.AsyncClient) -> None:
    items = (
        await client.get("/api/v1/agencies", params={"region_code": "11.74", "limit": 100})
    ).json()["items"]
    assert len(items) == 10
    assert "Bank Aceh Syariah Cabang Langsa" in {item["name"] for item in items}
    vertical = (
        await client.get("/api/v1/agencies", params={"region_code": "11", "kind": "vertical"})
    ).json()["items"]
    assert {item["name"] for item in vertical} == {
        "Kantor Imigrasi Langsa",
        "Kantor Pengawasan dan Pelayanan Bea dan Cukai Langsa",
    }
    assert all(item["timezone"] == "Asia/Jakarta" for item in vertical)


async def test_location_lists_counters_with_their_services(client: httpx.AsyncClient) -> None:
    items = (
        await client.get("/api/v1/locations", params={"service_id": str(SAMARINDA_KTP_EL_ID)})
    ).json()["items"]
    assert [item["id"] for item in items] == [str(demo_location_id("64.72"))]
    counters = items[0]["counters"]
    assert len(counters) == 10
    dukcapil = next(c for c in counters if c["agency_id"] == str(SAMARINDA_DUKCAPIL_ID))
    assert str(SAMARINDA_KTP_EL_ID) in dukcapil["service_ids"]
    assert items[0]["opening_hours"]["mon"] == [["08:00", "15:00"]]


async def test_unknown_ids_are_404(client: httpx.AsyncClient) -> None:
    for path in ("services", "agencies", "locations"):
        response = await client.get(f"/api/v1/{path}/{uuid.uuid4()}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# --- the demo seed ----------------------------------------------------------------------------


async def test_demo_seed_runs_again_without_new_versions_or_events(
    client: httpx.AsyncClient,
) -> None:
    sessionmaker = client.app.state.runtime.session_factory()  # type: ignore[attr-defined]

    async def counts() -> tuple[int, int]:
        async with sessionmaker() as session:
            versions = await session.scalar(select(func.count()).select_from(ServiceVersionRow))
            events = await session.scalar(select(func.count()).select_from(outbox))
            return int(versions or 0), int(events or 0)

    before = await counts()
    await load_demo_data(sessionmaker)
    assert await counts() == before
    assert before[0] == 95
    # Each demo location was announced once, with its counters, on the first seed only.
    async with sessionmaker() as session:
        rows = await session.scalars(
            select(outbox.c.envelope).where(
                outbox.c.envelope["type"].astext == "mpp.catalog.location.updated"
            )
        )
        announced = [row["data"] for row in rows]
    assert sorted(a["location_id"] for a in announced) == sorted(
        str(demo_location_id(region.code)) for region in DEMO_REGIONS
    )
    assert all(a["counters"] and a["as_of"] for a in announced)


async def test_openapi_documents_the_catalogue_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in (
        "/api/v1/regions",
        "/api/v1/agencies",
        "/api/v1/locations",
        "/api/v1/services",
        "/api/v1/services/{service_id}",
        "/api/v1/services/{service_id}/draft",
        "/api/v1/services/{service_id}/publish",
        "/api/v1/services/{service_id}/retire",
    ):
        assert path in spec["paths"], path
    service = spec["components"]["schemas"]["ServiceRead"]["properties"]
    assert {"form_schema", "prefill", "requirements", "sla_working_days"} <= set(service)
