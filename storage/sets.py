"""Membership in a set of values given by the caller, written so that a statement is compiled once.

``column.in_(values)`` renders one bound parameter per value on every execution (a batch of
thousands of ids costs more to render than to run); on PostgreSQL ``column = ANY(:array)`` binds
the whole set as one array parameter. SQLite has no arrays and keeps ``IN``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute


def among(
    dialect: str, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column`` is one of ``values``."""
    found = list(values)
    if dialect == "postgresql":
        return column == any_(bindparam(None, found, type_=ARRAY(column.type)))
    return column.in_(found)
