"""Sets of values given by the caller, written so that a statement is compiled once whatever their number.

``column.in_(values)`` renders one bound parameter per value on every execution (a batch of
thousands of ids costs more to render than to run); on PostgreSQL ``column = ANY(:array)`` binds
the whole set as one array parameter. SQLite has no arrays and keeps ``IN``.

The same holds for rows: ``rows_table`` gives the caller's rows as a table to join an ``UPDATE`` with
(one statement for the whole batch, no ``CASE`` with a branch per row), and ``insert_rows``
writes many rows with one statement that PostgreSQL prepares and plans once per connection,
where a multi-row ``VALUES`` has a text, and a plan, of its own for every number of rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, FromClause, Table, any_, bindparam, column, func, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.types import TypeEngine

from storage.models import Base
from storage.uow import UnitOfWork


def among(
    dialect: str, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column`` is one of ``values``."""
    found = list(values)
    if dialect == "postgresql":
        return column == any_(bindparam(None, found, type_=ARRAY(column.type)))
    return column.in_(found)


def rows_table(
    dialect: str, name: str, columns: Mapping[str, TypeEngine[Any]], values: Sequence[Sequence[Any]]
) -> FromClause:
    """``values`` (tuples in the order of ``columns``) as a table named ``name``, bound whole: on
    PostgreSQL one array per column (``unnest``), on SQLite one JSON text (``json_each``; dates
    travel as their ISO text, which is how SQLite stores them)."""
    if dialect == "postgresql":
        arrays = [
            bindparam(None, [v[i] for v in values], type_=ARRAY(t)) for i, t in enumerate(columns.values())
        ]
        return (
            func.unnest(*arrays)
            .table_valued(*(column(n, t) for n, t in columns.items()))
            .render_derived(name=name)
        )
    each = func.json_each(bindparam(None, json.dumps([list(v) for v in values], default=str))).table_valued(
        "value"
    )
    return select(
        *(
            type_coerce(func.json_extract(each.c.value, f"$[{i}]"), t).label(n)
            for i, (n, t) in enumerate(columns.items())
        )
    ).subquery(name)


async def insert_rows(
    uow: UnitOfWork,
    model: type[Base],
    values: Sequence[Mapping[str, Any]],
    returning: Sequence[QueryableAttribute[Any]] = (),
    skip_conflicts: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert ``values`` (dicts with the same keys; the columns' Python defaults fill the others,
    taken once per statement) with one statement, without the ORM's bookkeeping per row; with
    ``skip_conflicts``, a row that would break a unique constraint is skipped. Returns the primary
    key and ``returning`` of each row written, in the order given.

    On PostgreSQL the rows go as one array per column (``INSERT … SELECT FROM unnest(…) WITH
    ORDINALITY … ORDER BY``), a column with the same value in every row as that one value (the
    seller on every invoice, an audit row's action): the sequence numbers the rows in that order,
    so sorting by the key gives the order given (what SQLAlchemy's own "insertmanyvalues" relies
    on). SQLite takes the rows as parameter sets of one compiled statement."""
    if not values:
        return []
    table = cast(Table, model.__table__)
    key = next(iter(table.primary_key))
    names = list(values[0])
    if uow.dialect == "postgresql":
        first = values[0]
        varying = [n for n in names if any(v[n] != first[n] for v in values)] or names[:1]
        arrays = [bindparam(None, [v[n] for v in values], type_=ARRAY(table.c[n].type)) for n in varying]
        source = (
            func.unnest(*arrays)
            .table_valued(*(column(n, table.c[n].type) for n in varying), with_ordinality="ord")
            .render_derived(name="v")
        )
        picked = [
            source.c[n] if n in varying else bindparam(None, first[n], type_=table.c[n].type) for n in names
        ]
        statement: Any = pg_insert(table).from_select(names, select(*picked).order_by(source.c.ord))
        if skip_conflicts:
            statement = statement.on_conflict_do_nothing()
        written = await uow.session.execute(statement.returning(key, *returning))
        return sorted((tuple(r) for r in written), key=lambda r: int(r[0]))
    statement = sqlite_insert(table)
    if skip_conflicts:
        statement = statement.on_conflict_do_nothing()
    written = await uow.core(statement.returning(key, *returning), values)
    return sorted((tuple(r) for r in written), key=lambda r: int(r[0]))
