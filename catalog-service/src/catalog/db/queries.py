# ruff: noqa: S608 - statements are assembled from constant fragments; values are $n parameters
"""The catalogue's read side: SQL that returns public JSON, run straight on an asyncpg pool.

Reads are most of the traffic, so PostgreSQL builds each item's JSON (or reads the JSON stored
when a version was published) and Python only joins the pieces: no ORM objects, no model
validation, no transaction (each read is one statement). Word search ranks its matches in
``service_search``, a narrow copy of what search reads of each listed service (migration
0003), and reads the listing JSON from ``services`` for the page's rows only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from catalog.domain.regions import region_keys_for_filter

_WORD = re.compile(r"[^\W_]+")
# Words only, none of web search's syntax ("quotes", -minus, or).
_PLAIN_WORDS = re.compile(r"[^\W_]+(?:\s+[^\W_]+)*")


class Connection(Protocol):
    """The part of an asyncpg connection or pool that the queries use."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...

    async def fetchrow(self, query: str, *args: Any) -> Any: ...


@dataclass(frozen=True, slots=True)
class PageRows:
    """Items as JSON texts, and the sort key of the last one when more follow."""

    items: list[str]
    next_position: dict[str, Any] | None


def _page(rows: list[Any], limit: int, position: Any) -> PageRows:
    more = len(rows) > limit
    rows = rows[:limit]
    return PageRows(
        items=[row["item"] for row in rows],
        next_position=position(rows[-1]) if more and rows else None,
    )


# --- regions ----------------------------------------------------------------------------------

_REGION_JSON = (
    "json_build_object('code', code, 'name', name, 'level', level, "
    "'parent_code', parent_code)::text AS item"
)


async def list_regions(
    conn: Connection,
    *,
    parent: str | None,
    level: str | None,
    name: str | None,
    limit: int,
    after_code: str | None,
) -> PageRows:
    where: list[str] = []
    args: list[Any] = []
    for condition, value in (
        ("parent_code = ${}", parent),
        ("level = ${}", level),
        ("lower(name) LIKE ${}", f"%{_like_escape(name.lower())}%" if name else None),
        ("code > ${}", after_code),
    ):
        if value is not None:
            args.append(value)
            where.append(condition.format(len(args)))
    args.append(limit + 1)
    sql = (
        f"SELECT code, {_REGION_JSON} FROM regions"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY code LIMIT ${len(args)}"
    )
    rows = await conn.fetch(sql, *args)
    return _page(rows, limit, lambda row: {"c": row["code"]})


async def get_region(conn: Connection, code: str) -> str | None:
    row = await conn.fetchrow(f"SELECT {_REGION_JSON} FROM regions WHERE code = $1", code)
    return row["item"] if row is not None else None


# --- agencies ---------------------------------------------------------------------------------

_AGENCY_JSON = (
    "json_build_object('id', a.id, 'name', a.name, 'kind', a.kind, "
    "'region_code', a.region_code, 'region_name', r.name, 'timezone', a.timezone, "
    "'address', a.address, 'phone', a.phone, 'email', a.email, 'website', a.website, "
    "'service_pledge', a.service_pledge, 'revision', a.revision, "
    "'created_at', a.created_at, 'updated_at', a.updated_at)::text AS item"
)


async def list_agencies(
    conn: Connection,
    *,
    region_code: str | None,
    kind: str | None,
    limit: int,
    after: tuple[str, uuid.UUID] | None,
) -> PageRows:
    where: list[str] = []
    args: list[Any] = []
    if region_code is not None:
        # Agencies in the region or anywhere below it.
        args.extend([region_code, _like_escape(region_code) + ".%"])
        where.append(f"(a.region_code = ${len(args) - 1} OR a.region_code LIKE ${len(args)})")
    if kind is not None:
        args.append(kind)
        where.append(f"a.kind = ${len(args)}")
    if after is not None:
        args.extend(after)
        where.append(f"(a.name, a.id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    sql = (
        f"SELECT a.name, a.id, {_AGENCY_JSON} FROM agencies a "
        "JOIN regions r ON r.code = a.region_code"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY a.name, a.id LIMIT ${len(args)}"
    )
    rows = await conn.fetch(sql, *args)
    return _page(rows, limit, lambda row: {"n": row["name"], "i": str(row["id"])})


async def get_agency(conn: Connection, agency_id: uuid.UUID) -> str | None:
    row = await conn.fetchrow(
        f"SELECT {_AGENCY_JSON} FROM agencies a JOIN regions r ON r.code = a.region_code "
        "WHERE a.id = $1",
        agency_id,
    )
    return row["item"] if row is not None else None


# --- locations --------------------------------------------------------------------------------

_LOCATION_JSON = """json_build_object(
    'id', l.id, 'name', l.name, 'region_code', l.region_code, 'address', l.address,
    'opening_hours', l.opening_hours,
    'counters', coalesce((
        SELECT json_agg(json_build_object(
            'id', c.id, 'label', c.label, 'agency_id', c.agency_id, 'agency_name', a.name,
            'service_ids', coalesce((
                SELECT json_agg(cs.service_id ORDER BY cs.service_id)
                FROM counter_services cs WHERE cs.counter_id = c.id
            ), '[]'::json)
        ) ORDER BY c.position, c.label)
        FROM counters c JOIN agencies a ON a.id = c.agency_id
        WHERE c.location_id = l.id
    ), '[]'::json)
)::text AS item"""


async def list_locations(
    conn: Connection,
    *,
    region_code: str | None,
    agency_id: uuid.UUID | None,
    service_id: uuid.UUID | None,
    limit: int,
    after: tuple[str, uuid.UUID] | None,
) -> PageRows:
    where: list[str] = []
    args: list[Any] = []
    if region_code is not None:
        args.extend([region_code, _like_escape(region_code) + ".%"])
        where.append(f"(l.region_code = ${len(args) - 1} OR l.region_code LIKE ${len(args)})")
    if agency_id is not None:
        args.append(agency_id)
        where.append(
            f"EXISTS (SELECT 1 FROM counters c WHERE c.location_id = l.id "
            f"AND c.agency_id = ${len(args)})"
        )
    if service_id is not None:
        args.append(service_id)
        where.append(
            "EXISTS (SELECT 1 FROM counters c JOIN counter_services cs ON cs.counter_id = c.id "
            f"WHERE c.location_id = l.id AND cs.service_id = ${len(args)})"
        )
    if after is not None:
        args.extend(after)
        where.append(f"(l.name, l.id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit + 1)
    sql = (
        f"SELECT l.name, l.id, {_LOCATION_JSON} FROM locations l"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY l.name, l.id LIMIT ${len(args)}"
    )
    rows = await conn.fetch(sql, *args)
    return _page(rows, limit, lambda row: {"n": row["name"], "i": str(row["id"])})


async def get_location(conn: Connection, location_id: uuid.UUID) -> str | None:
    row = await conn.fetchrow(
        f"SELECT {_LOCATION_JSON} FROM locations l WHERE l.id = $1", location_id
    )
    return row["item"] if row is not None else None


# --- services ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceFilter:
    q: str | None = None
    agency_id: uuid.UUID | None = None
    region_code: str | None = None
    category: str | None = None
    channel: str | None = None


def prefix_query(text: str) -> str | None:
    """``"akta lahir"`` → ``"akta:* & lahir:*"``: every word, as a prefix (for typing-ahead)."""
    words = _WORD.findall(text.lower())
    return " & ".join(f"{word}:*" for word in words) if words else None


async def search_services(
    conn: Connection, *, where: ServiceFilter, limit: int, cursor: dict[str, Any] | None
) -> PageRows:
    """Listed (published) services matching the filter.

    With a query: ranked by relevance — all words found (Indonesian stemming) before words
    found as prefixes; when nothing matches at all, services whose name or keywords are
    spelled nearly like the query (trigram similarity, for typos). Ties are broken by id, and
    the cursor remembers which of the two searches a page belongs to. Without a query:
    ordered by name, then id.
    """
    arg = _Parameters()
    # Column names that services and service_search share.
    filters: list[str] = []
    if where.agency_id is not None:
        filters.append(f"agency_id = {arg(where.agency_id)}")
    if where.category is not None:
        filters.append(f"category = {arg(where.category)}")
    if where.channel is not None:
        filters.append(f"channels @> ARRAY[{arg(where.channel)}]::text[]")
    if where.region_code is not None:
        filters.append(f"region_keys && {arg(region_keys_for_filter(where.region_code))}::text[]")
    prefix = prefix_query(where.q) if where.q else None
    if where.q is None or prefix is None:
        return await _by_name(conn, arg, filters, limit=limit, cursor=cursor)
    return await _by_relevance(
        conn, arg, filters, q=where.q.strip().lower(), prefix=prefix, limit=limit, cursor=cursor
    )


class _Parameters:
    """The values of a statement's ``$n`` parameters, numbered as they are added."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


async def _by_name(
    conn: Connection,
    arg: _Parameters,
    filters: list[str],
    *,
    limit: int,
    cursor: dict[str, Any] | None,
) -> PageRows:
    conditions = ["status = 'published'", *filters]
    if cursor is not None:
        conditions.append(f"(name, id) > ({arg(_text(cursor, 'n'))}, {arg(_uuid(cursor))})")
    # The listing becomes text for the page's rows only, not for every row sorted.
    sql = (
        "SELECT name, id, listing::text AS item FROM (SELECT name, id, listing FROM services "
        "WHERE " + " AND ".join(conditions) + f" ORDER BY name, id LIMIT {arg(limit + 1)}"
        ") page ORDER BY name, id"
    )
    rows = await conn.fetch(sql, *arg.values)
    return _page(rows, limit, lambda row: {"n": row["name"], "i": str(row["id"])})


# Ranks of the two tiers of word matches: a text rank (ts_rank) is between 0 and 1.
_WHOLE_WORDS = 2
_PREFIXES = 1


async def _by_relevance(
    conn: Connection,
    arg: _Parameters,
    filters: list[str],
    *,
    q: str,
    prefix: str,
    limit: int,
    cursor: dict[str, Any] | None,
) -> PageRows:
    """One statement, whatever the tiers: each is a CTE that ranks its matches in the narrow
    ``service_search`` and keeps the best ``limit + 1``; a later tier's LIMIT is what the
    earlier ones left of the page (0: it does not run at all); the JSON is read for the page.
    """
    mode = cursor.get("m", "f") if cursor is not None else "f"
    if mode not in ("f", "t"):
        raise BadCursor("m")
    after = (_float(cursor), _uuid(cursor)) if cursor is not None else None
    page_condition = ""
    if after is not None:
        page_condition = f" WHERE (rank, id) < ({arg(after[0])}, {arg(after[1])})"
    size = arg(limit + 1)
    ctes: list[str] = []
    tiers: list[tuple[str, str]] = []  # (CTE name, cursor mode)

    def tier(name: str, tier_mode: str, rank: str, source: str, match: list[str], top: str) -> None:
        where = " AND ".join([*filters, *match])
        ctes.append(
            f"{name} AS MATERIALIZED (SELECT id, rank FROM (SELECT id, {rank} AS rank "
            f"FROM {source}{' WHERE ' + where if where else ''}) matched{page_condition} "
            f"ORDER BY rank DESC, id DESC LIMIT {top})"
        )
        tiers.append((name, tier_mode))

    if mode == "f":
        ctes.append(
            f"typed AS MATERIALIZED (SELECT websearch_to_tsquery('indonesian', {arg(q)}) AS words,"
            f" to_tsquery('indonesian', {arg(prefix)}) AS prefixes)"
        )
        # A service matching every word (stemmed) ranks above one matching them only as
        # prefixes, and in each tier the weighted text rank decides (name > keywords >
        # description). Whole words are looked up in the index as such. What they match
        # must match the prefixes too; the index could only check those by reading every
        # entry they begin, so they are checked on the rows found (ts_match_vq is @@ without
        # the index) — and not at all for plain words, whose prefixes match whatever they do.
        whole_words = after is None or after[0] >= _WHOLE_WORDS
        if whole_words:
            plain = _PLAIN_WORDS.fullmatch(q) is not None and "or" not in q.split()
            tier(
                "whole",
                "f",
                f"({_WHOLE_WORDS} + ts_rank(search_vector, typed.prefixes))::float8",
                "typed, service_search",
                [
                    "search_vector @@ typed.words",
                    *([] if plain else ["ts_match_vq(search_vector, typed.prefixes)"]),
                ],
                size,
            )
        tier(
            "prefixed",
            "f",
            f"({_PREFIXES} + ts_rank(search_vector, typed.prefixes))::float8",
            "typed, service_search",
            ["search_vector @@ typed.prefixes", "NOT search_vector @@ typed.words"],
            f"greatest({size} - (SELECT count(*) FROM whole), 0)" if whole_words else size,
        )
    if after is None or mode == "t":
        # Nothing matched the words, even as prefixes: near spellings (typos). The query is
        # compared with each distinct text once, not with every service that has it.
        raw = arg(q)
        ctes.append(
            f"near_texts AS MATERIALIZED (SELECT search_text, word_similarity({raw}, search_text)"
            f"::float8 AS rank FROM service_search_texts WHERE {raw} <% search_text)"
        )
        found = " OR ".join(f"EXISTS (SELECT FROM {name})" for name, _ in tiers)
        tier(
            "near",
            "t",
            "near_texts.rank",
            "near_texts JOIN service_search USING (search_text)",
            [],
            f"CASE WHEN {found} THEN 0 ELSE {size} END" if found else size,
        )
    sql = (
        f"WITH {', '.join(ctes)}, page AS ("
        + " UNION ALL ".join(
            f"SELECT '{mode}' AS mode, id, rank FROM {name}" for name, mode in tiers
        )
        + ") SELECT page.mode, page.rank, s.id, s.listing::text AS item FROM page"
        " JOIN services s ON s.id = page.id ORDER BY page.rank DESC, page.id DESC"
    )
    rows = await conn.fetch(sql, *arg.values)
    return _page(rows, limit, lambda row: {"m": row["mode"], "r": row["rank"], "i": str(row["id"])})


async def get_service(
    conn: Connection, service_id: uuid.UUID, version: int | None
) -> tuple[int, str] | None:
    """A published version's document (the latest without ``version``) and its number.

    ``status`` says where the version stands: ``published`` (the latest, open for
    applications), ``retired`` (the latest, closed) or ``superseded`` (an older version).
    """
    row = await conn.fetchrow(
        "SELECT v.version, (v.document || jsonb_build_object("
        "'status', CASE WHEN v.version = s.published_version THEN s.status "
        "ELSE 'superseded' END, 'latest_version', s.published_version))::text AS item "
        "FROM services s JOIN service_versions v ON v.service_id = s.id "
        "AND v.version = coalesce($2, s.published_version) AND v.status = 'published' "
        "WHERE s.id = $1",
        service_id,
        version,
    )
    return (row["version"], row["item"]) if row is not None else None


# --- cursor parts -----------------------------------------------------------------------------


class BadCursor(ValueError):
    """The cursor does not belong to this list (another endpoint's, or a changed query's)."""


def _text(cursor: dict[str, Any], key: str) -> str:
    value = cursor.get(key)
    if not isinstance(value, str):
        raise BadCursor(key)
    return value


def _float(cursor: dict[str, Any]) -> float:
    value = cursor.get("r")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise BadCursor("r")
    return float(value)


def _uuid(cursor: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(_text(cursor, "i"))
    except ValueError:
        raise BadCursor("i") from None


def after_name_id(cursor: dict[str, Any] | None) -> tuple[str, uuid.UUID] | None:
    if cursor is None:
        return None
    return _text(cursor, "n"), _uuid(cursor)


def after_code(cursor: dict[str, Any] | None) -> str | None:
    return _text(cursor, "c") if cursor is not None else None


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
