# ruff: noqa: S608 - statements are assembled from constant fragments; values are $n parameters
"""The catalogue's read side: SQL that returns public JSON, run straight on an asyncpg pool.

Reads are most of the traffic, so PostgreSQL builds each item's JSON (or reads the JSON stored
when a version was published) and Python only joins the pieces: no ORM objects, no model
validation, no transaction (each read is one statement).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from catalog.domain.regions import region_keys_for_filter

_WORD = re.compile(r"[^\W_]+")


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
    conditions = ["status = 'published'"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if where.agency_id is not None:
        conditions.append(f"agency_id = {arg(where.agency_id)}")
    if where.category is not None:
        conditions.append(f"category = {arg(where.category)}")
    if where.channel is not None:
        conditions.append(f"channels @> ARRAY[{arg(where.channel)}]::text[]")
    if where.region_code is not None:
        conditions.append(
            f"region_keys && {arg(region_keys_for_filter(where.region_code))}::text[]"
        )

    prefix = prefix_query(where.q) if where.q else None
    if where.q is None or prefix is None:
        if cursor is not None:
            conditions.append(f"(name, id) > ({arg(_text(cursor, 'n'))}, {arg(_uuid(cursor))})")
        sql = (
            "SELECT name, id, listing::text AS item FROM services WHERE "
            + " AND ".join(conditions)
            + f" ORDER BY name, id LIMIT {arg(limit + 1)}"
        )
        rows = await conn.fetch(sql, *args)
        return _page(rows, limit, lambda row: {"n": row["name"], "i": str(row["id"])})

    q = where.q.strip().lower()
    mode = cursor.get("m", "f") if cursor is not None else "f"
    if mode == "f":
        page = await _search_words(
            conn, conditions, list(args), q=q, prefix=prefix, limit=limit, cursor=cursor
        )
        if page.items or cursor is not None:
            return page
    # Nothing matched the words, even as prefixes: look for near spellings (typos).
    return await _search_near_spellings(
        conn, conditions, list(args), q=q, limit=limit, cursor=cursor if mode == "t" else None
    )


async def _search_words(
    conn: Connection,
    conditions: list[str],
    args: list[Any],
    *,
    q: str,
    prefix: str,
    limit: int,
    cursor: dict[str, Any] | None,
) -> PageRows:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    web = f"websearch_to_tsquery('indonesian', {arg(q)})"
    pre = f"to_tsquery('indonesian', {arg(prefix)})"
    # Every word of the query found (stemmed) ranks above words found only as prefixes; inside
    # each tier the weighted text rank decides (name > keywords > description).
    rank = (
        f"((CASE WHEN search_vector @@ {web} THEN 2 ELSE 1 END)"
        f" + ts_rank(search_vector, {pre}))::float8"
    )
    page_condition = ""
    if cursor is not None:
        page_condition = f" WHERE (rank, id) < ({arg(_float(cursor))}, {arg(_uuid(cursor))})"
    # A prefix query matches whatever the full-word query matches, and more.
    sql = _ranked(
        rank,
        " AND ".join([*conditions, f"search_vector @@ {pre}"]),
        page_condition,
        arg(limit + 1),
    )
    rows = await conn.fetch(sql, *args)
    return _page(rows, limit, lambda row: {"m": "f", "r": row["rank"], "i": str(row["id"])})


async def _search_near_spellings(
    conn: Connection,
    conditions: list[str],
    args: list[Any],
    *,
    q: str,
    limit: int,
    cursor: dict[str, Any] | None,
) -> PageRows:
    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    raw = arg(q)
    rank = f"word_similarity({raw}, search_text)::float8"
    page_condition = ""
    if cursor is not None:
        page_condition = f" WHERE (rank, id) < ({arg(_float(cursor))}, {arg(_uuid(cursor))})"
    sql = _ranked(
        rank, " AND ".join([*conditions, f"{raw} <% search_text"]), page_condition, arg(limit + 1)
    )
    rows = await conn.fetch(sql, *args)
    return _page(rows, limit, lambda row: {"m": "t", "r": row["rank"], "i": str(row["id"])})


def _ranked(rank: str, where: str, page_condition: str, limit: str) -> str:
    # The JSON of a listing is read for the page's rows only, not for every match ranked.
    return (
        "SELECT page.rank, s.id, s.listing::text AS item FROM ("
        f"SELECT id, rank FROM (SELECT id, {rank} AS rank FROM services WHERE {where}) matched"
        f"{page_condition} ORDER BY rank DESC, id DESC LIMIT {limit}"
        ") page JOIN services s ON s.id = page.id ORDER BY page.rank DESC, page.id DESC"
    )


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
