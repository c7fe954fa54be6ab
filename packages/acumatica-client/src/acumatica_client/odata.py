"""OData v3 literals and filters as Acumatica's ``$filter`` accepts them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime


def string_literal(value: str) -> str:
    """``'O''Brien'``: single quotes doubled, as OData requires."""
    return "'" + value.replace("'", "''") + "'"


def datetimeoffset_literal(value: datetime) -> str:
    """``datetimeoffset'2024-07-15T07:31:28.403000+00:00'`` (naive values are UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return f"datetimeoffset'{value.isoformat(timespec='microseconds')}'"


def literal(value: object) -> str:
    """Literal for a key or bound value: strings quoted, datetimes typed, numbers bare."""
    if isinstance(value, datetime):
        return datetimeoffset_literal(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return string_literal(str(value))


def after(columns: Sequence[str], values: Sequence[object]) -> str:
    """Rows strictly after ``values`` in the lexicographic order of ``columns``.

    ``after(["T", "K"], [t, k])`` is ``(T gt t or (T eq t and K gt k))``: a keyset
    cursor that pages correctly through any number of rows sharing one ``T``.
    """
    if not columns or len(columns) != len(values):
        msg = "after() needs one value per column"
        raise ValueError(msg)
    column, value = columns[-1], values[-1]
    clause = f"{column} gt {literal(value)}"
    for column, value in zip(reversed(columns[:-1]), reversed(values[:-1]), strict=True):
        clause = f"{column} gt {literal(value)} or ({column} eq {literal(value)} and ({clause}))"
    return f"({clause})"
