"""Multi-row statements whose text does not depend on the number of rows.

A multi-row ``VALUES`` list has a statement text per row count, so each new count is parsed,
planned and prepared again (by PostgreSQL and by asyncpg). Sending one array per column and
unnesting them keeps one text, prepared once and reused, whatever the batch size.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, ColumnElement, Select, Table, Text, any_, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql.dml import Insert


def unnest_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> Select[Any]:
    """``SELECT * FROM unnest(<one array per column>)``: the rows (each with the same keys,
    columns of ``table``) as a select, in their order."""
    if not rows:
        raise ValueError("unnest_rows needs at least one row")
    return _unnest(table, list(rows[0]), row_arrays(table, rows))


def unnest_select(table: Table, names: Sequence[str]) -> Select[Any]:
    """:func:`unnest_rows` without the rows, to build once: each column's array is the
    parameter ``rows_<name>``, given at execution by :func:`row_arrays` (a statement built
    once is neither built nor keyed for the compiled cache again)."""
    return _unnest(table, list(names), None)


def row_arrays(table: Table, rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The execution parameters of :func:`unnest_select`'s statement for ``rows``."""
    names = list(rows[0]) if rows else []
    arrays: dict[str, list[Any]] = {}
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSON):
            # A JSON list would read as one more dimension of the array: sent as text,
            # read back as the column's type.
            values = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        arrays[f"rows_{name}"] = values
    return arrays


def _unnest(table: Table, names: list[str], arrays: dict[str, list[Any]] | None) -> Select[Any]:
    parameters: list[ColumnElement[Any]] = []
    documents = set()
    for name in names:
        kind = table.c[name].type
        if isinstance(kind, JSON):
            documents.add(name)
            kind = Text()
        array = ARRAY(kind)
        key = f"rows_{name}"
        parameter = (
            bindparam(key, type_=array)
            if arrays is None
            else bindparam(key, arrays[key], type_=array)
        )
        parameters.append(cast(parameter, array))
    unnested = func.unnest(*parameters).table_valued(*names).render_derived(with_types=False)
    return select(
        *(
            cast(unnested.c[name], table.c[name].type).label(name)
            if name in documents
            else unnested.c[name]
            for name in names
        )
    )


def insert_rows(table: Table, rows: Sequence[Mapping[str, Any]]) -> Insert:
    """``INSERT INTO table (<the rows' keys>) SELECT … FROM unnest(…)``; add ``ON CONFLICT`` and
    ``RETURNING`` as to any insert (``statement.excluded`` names the proposed row)."""
    names = list(rows[0]) if rows else []
    return insert(table).from_select(names, unnest_rows(table, rows))


def insert_select(table: Table, names: Sequence[str]) -> Insert:
    """:func:`insert_rows` without the rows, to build once (with its ``ON CONFLICT`` and
    ``RETURNING``) and execute with :func:`row_arrays` of rows with the keys ``names``."""
    return insert(table).from_select(list(names), unnest_select(table, names))


def in_array(
    column: ColumnElement[Any], values: Sequence[Any], *, name: str
) -> ColumnElement[bool]:
    """``column = ANY(<one array>)``: ``IN (…)`` with one statement text whatever the number
    of values (``in_`` renders one parameter per value)."""
    array = ARRAY(column.type)
    return column == any_(cast(bindparam(name, list(values), type_=array), array))
