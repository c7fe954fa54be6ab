"""Comparing what the tap emitted (or a warehouse holds) with what the emulator holds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def instant(value: str) -> datetime:
    """An ISO timestamp as an aware UTC datetime (naive values are taken as UTC)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def same_value(emitted: Any, source: Any) -> bool:
    """Equal as the user sees it: numbers exactly, timestamps as instants."""
    if emitted is None or source is None:
        return emitted is None and source is None
    if isinstance(source, bool) or isinstance(emitted, bool):
        return emitted == source
    if isinstance(source, int | float | Decimal) and isinstance(emitted, int | float | Decimal):
        return Decimal(str(emitted)) == Decimal(str(source))
    if isinstance(source, str) and isinstance(emitted, str) and _looks_like_timestamp(source):
        return instant(emitted) == instant(source)
    if isinstance(source, list) and isinstance(emitted, list):
        return len(source) == len(emitted) and all(
            same_record(e, s) for e, s in zip(emitted, source, strict=True)
        )
    if isinstance(source, dict) and isinstance(emitted, dict):
        return same_record(emitted, source)
    return emitted == source


def differences(emitted: dict, source: dict, fields: list[str] | None = None) -> list[str]:
    """Fields whose values differ, for an assertion message."""
    names = fields or [k for k in source if k not in ("rowNumber", "_links", "custom")]
    return [
        f"{name}: emitted {emitted.get(name)!r}, source {source.get(name)!r}"
        for name in names
        if not same_value(emitted.get(name), source.get(name))
    ]


def same_record(emitted: dict, source: dict) -> bool:
    return not differences(emitted, source)


def _looks_like_timestamp(text: str) -> bool:
    return len(text) >= 19 and text[4] == "-" and text[10] == "T"
