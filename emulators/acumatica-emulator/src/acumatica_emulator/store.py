"""The record store: the lazy base sequence of each entity plus an overlay of changes.

Inserted and modified records live in the overlay with a fresh LastModifiedDateTime; modified and
deleted base records are hidden from the base sequence by index. Queries merge both sequences in
the requested order, jumping into the base sequence at the filter's timestamp lower bound.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from acumatica_client import catalog

from .clock import InstanceClock
from .fused import FusedRules
from .generator import KEY_FIELDS, SPECS, Generator, union_fields

#: Fields that hold the record's last-change time; base records share one value for all of them.
TIMESTAMP_FIELDS = ("LastModifiedDateTime", "LastModified", "LastModifiedDate")


class RecordNotFound(KeyError):
    """No record of the entity has that id or those keys."""


@dataclass
class Overlay:
    """Changes to one entity's base sequence."""

    hidden: set[int] = field(default_factory=set)
    records: dict[str, dict] = field(default_factory=dict)
    next_number: int = 0
    #: Detail lines added by ``insert``/``modify`` so far (numbers their GUIDs).
    lines_added: int = 0


class RecordStore:
    """Current records of every entity; also the mutation API tests use between sync pages.

    ``records()`` returns plain (unwrapped) values: ``str`` for StringValue/GuidValue, ``int`` for
    Int/Short/Long/Byte values, ``bool`` for BooleanValue, ``decimal.Decimal`` with 2 places for
    DecimalValue, ISO-8601 ``str`` with milliseconds and the instance offset for DateTimeValue, and
    ``None`` for empty values. Detail arrays are lists of such dicts (each with ``id``); ``custom``
    is ``{view: {field: value}}``.
    """

    def __init__(self, generator: Generator, clock: InstanceClock, versions: tuple[str, ...]) -> None:
        self.gen = generator
        self.clock = clock
        self.versions = versions
        self._lock = threading.RLock()
        self._overlay = {name: Overlay(next_number=generator.sizes[name]) for name in SPECS}
        self._ms_cache: dict[str, int] = {}
        self.fused = FusedRules(generator)
        #: When a record was last inserted, changed or deleted (epoch ms on the clock); None before.
        self.last_change_ms: int | None = None

    # ---- helpers --------------------------------------------------------------------------
    def to_ms(self, text: str) -> int:
        ms = self._ms_cache.get(text)
        if ms is None:
            if len(self._ms_cache) > 100_000:
                self._ms_cache.clear()
            ms = self.clock.parse_ms(text)
            self._ms_cache[text] = ms
        return ms

    def _entity(self, entity: str) -> Overlay:
        if entity not in SPECS:
            raise RecordNotFound(entity)
        return self._overlay[entity]

    def lines(self, entity: str, rec: dict) -> list[dict]:
        """Detail lines of a record (generated for base records, stored for overlay ones)."""
        detail = SPECS[entity].detail
        if not detail:
            return []
        if detail in rec:
            return rec[detail]
        return self.gen.lines_of(entity, rec["_i"], rec)

    def _base(self, entity: str, i: int) -> dict:
        rec = self.gen.header(entity, i)
        rec["_i"] = i
        return rec

    def _materialise(self, entity: str, rec: dict) -> dict:
        full = copy.deepcopy({k: v for k, v in rec.items() if k not in ("_i", "_lines")})
        detail = SPECS[entity].detail
        if detail and detail not in full:
            full[detail] = [dict(line) for line in self.gen.lines_of(entity, rec["_i"], rec)]
        return full

    def find(self, entity: str, key: str | tuple[str, ...]) -> dict:
        """The current record with this id (a GUID string) or these key values (a tuple)."""
        overlay = self._entity(entity)
        with self._lock:
            if isinstance(key, str):
                rec = overlay.records.get(key.lower())
                if rec is not None:
                    return rec
                i = self.gen.index_of_id(entity, key)
                if i is not None and i not in overlay.hidden:
                    return self._base(entity, i)
                raise RecordNotFound(key)
            key = tuple(key)
            for rec in overlay.records.values():
                if tuple(rec.get(k) for k in KEY_FIELDS[entity]) == key:
                    return rec
            i = self._index_of_keys(entity, key)
            if i is not None and i not in overlay.hidden:
                return self._base(entity, i)
            raise RecordNotFound(key)

    def _index_of_keys(self, entity: str, key: tuple[str, ...]) -> int | None:
        # Base keys carry their 1-based number in the last key field, after a fixed prefix.
        if len(key) != len(KEY_FIELDS[entity]):
            return None
        size = self.gen.sizes[entity]
        low, high = 0, size
        while low < high:  # keys increase with the index, so bisect on them
            mid = (low + high) // 2
            if self.gen.keys_of(entity, mid) < key:
                low = mid + 1
            else:
                high = mid
        if low < size and self.gen.keys_of(entity, low) == key:
            return low
        return None

    # ---- mutation API ---------------------------------------------------------------------
    def insert(self, entity: str, values: dict) -> dict:
        """Add a record; missing key fields get the next number. Returns the stored record."""
        overlay = self._entity(entity)
        with self._lock:
            fields = union_fields(entity, self.versions)
            rec = dict.fromkeys(f for f, t in fields.items() if catalog.is_scalar(t))
            overlay.next_number += 1
            n = overlay.next_number
            keys = KEY_FIELDS[entity]
            # Like the generator: constant leading keys (Type="Bill") of record 0, then the next
            # number with record 0's letter prefix ("V", "PO", "ITEM") in the last key.
            first = self.gen.header(entity, 0)
            for k in keys:
                rec[k] = first[k]
            prefix = str(first[keys[-1]]).rstrip("0123456789")
            rec[keys[-1]] = prefix + self.gen.pad(entity, n)
            rec.update(_plain(values, entity, self.versions))
            key = tuple(rec.get(k) for k in keys)
            try:
                self.find(entity, key)
            except RecordNotFound:
                pass
            else:
                raise ValueError(f"{entity} with keys {key} already exists")
            rec["id"] = _new_guid(entity, n)
            rec.setdefault("custom", {})
            detail = SPECS[entity].detail
            if detail:
                rec[detail] = self._merge_lines(entity, [], values.get(detail) or [])
            self._stamp(rec, created=True)
            overlay.records[rec["id"]] = rec
            return _export(rec)

    def modify(self, entity: str, key: str | tuple[str, ...], values: dict) -> dict:
        """Change fields of a record; its LastModifiedDateTime becomes 'now' (strictly increasing)."""
        overlay = self._entity(entity)
        with self._lock:
            current = self.find(entity, key)
            rec = self._materialise(entity, current)
            changes = _plain(values, entity, self.versions)
            custom = changes.pop("custom", None)
            rec.update(changes)
            detail = SPECS[entity].detail
            if detail and values.get(detail) is not None:
                rec[detail] = self._merge_lines(entity, rec[detail], values[detail])
            if custom:
                for view, fields in custom.items():
                    rec.setdefault("custom", {}).setdefault(view, {}).update(fields)
            if "_i" in current:
                overlay.hidden.add(current["_i"])
            self._stamp(rec)
            overlay.records[rec["id"]] = rec
            return _export(rec)

    def _merge_lines(self, entity: str, current: list[dict], changes: list[dict]) -> list[dict]:
        """Detail lines after a PUT's lines: a line with an ``id`` changes (or with ``delete: true``
        removes) that line, a line without one is added; new lines get the next ``LineNbr``."""
        line_type = detail_type(entity, self.versions)
        has_number = "LineNbr" in union_fields(line_type, self.versions)
        lines = [dict(line) for line in current]
        by_id = {str(line["id"]).lower(): line for line in lines}
        overlay = self._overlay[entity]
        for change in changes:
            line_id = change.get("id")
            if line_id:
                line = by_id.get(str(line_id).lower())
                if line is None:
                    raise RecordNotFound(f"{entity} line {line_id}")
                if change.get("delete"):
                    lines.remove(line)
                else:
                    line.update(_plain(_values(change), line_type, self.versions))
                continue
            overlay.lines_added += 1
            # A new line starts from the form's defaults (zero amounts, default subaccount, branch).
            line = {
                **self.gen.constant(entity, line=True),
                **_plain(_values(change), line_type, self.versions),
                "id": _new_guid(entity + "/line", overlay.lines_added),
                "custom": {},
            }
            if has_number and not line.get("LineNbr"):
                line["LineNbr"] = max((x.get("LineNbr") or 0 for x in lines), default=0) + 1
            lines.append(line)
        return lines

    def delete(self, entity: str, key: str | tuple[str, ...]) -> None:
        """Remove a record; like Acumatica, nothing records the deletion for a later query."""
        overlay = self._entity(entity)
        with self._lock:
            self.last_change_ms = self.clock.now_ms()
            current = self.find(entity, key)
            if "_i" in current:
                overlay.hidden.add(current["_i"])
            overlay.records.pop(current["id"], None)

    def _stamp(self, rec: dict, created: bool = False) -> None:
        self.last_change_ms = self.clock.now_ms()
        now = self.clock.format_ms(self.last_change_ms)
        for name in TIMESTAMP_FIELDS + (("CreatedDateTime", "CreatedDate") if created else ()):
            if name in rec:
                rec[name] = now

    def records(
        self, entity: str, version: str, expand: Iterable[str] = ("Details",), custom: Iterable[str] = ()
    ) -> list[dict]:
        """Every current record in key order, unwrapped, with only the fields of ``version``.

        ``expand`` names detail arrays and linked entities to include; ``custom`` lists 'View.Field'
        (header) or
        'Details/View.Field' (lines) custom fields to keep (default: none, as the API).
        """
        fields = catalog.fields(version, entity)
        scalars = [f for f, t in fields.items() if catalog.is_scalar(t)]
        out = []
        keyfn = self.sort_key(entity, [(k, False) for k in KEY_FIELDS[entity]])
        wanted = set(custom)
        for rec in sorted(self.scan(entity, lambda r: True, None, None), key=keyfn):
            row = {"id": rec["id"]}
            row.update({f: _decimal(rec.get(f)) for f in scalars})
            row["custom"] = _custom_subset(rec.get("custom", {}), wanted, "")
            for name in expand:
                if name not in fields or catalog.is_scalar(fields[name]):
                    continue
                sub = catalog.fields(version, catalog.element_type(fields[name]))
                sub_scalars = [f for f, t in sub.items() if catalog.is_scalar(t)]
                if name == SPECS[entity].detail:
                    row[name] = [
                        {
                            "id": line["id"],
                            **{f: _decimal(line.get(f)) for f in sub_scalars},
                            "custom": _custom_subset(line.get("custom", {}), wanted, name + "/"),
                        }
                        for line in self.lines(entity, rec)
                    ]
                elif catalog.is_detail(fields[name]):
                    row[name] = []  # other detail arrays are empty in generated data, as served
                else:
                    linked = self.gen.linked(
                        entity, rec, catalog.element_type(fields[name]), set(expand), name
                    )
                    row[name] = {"id": linked.get("id"), **{f: _decimal(linked.get(f)) for f in sub_scalars}}
            out.append(row)
        return out

    # ---- queries --------------------------------------------------------------------------
    def sort_key(self, entity: str, order: list[tuple[str, bool]]) -> Callable[[dict], tuple]:
        fields = union_fields(entity, self.versions)
        names = [name for name, _ in order]
        to_ms = self.to_ms
        stamps = [fields.get(n) == "DateTimeValue" for n in names]

        def key(rec: dict) -> tuple:
            out = []
            for name, stamp in zip(names, stamps, strict=True):
                value = rec.get(name)
                if value is None:
                    out.append((0, 0))
                else:
                    out.append((1, to_ms(value) if stamp else value))
            return tuple(out)

        return key

    def scan(
        self, entity: str, predicate: Callable[[dict], bool], low_ms: int | None, high_ms: int | None
    ) -> Iterator[dict]:
        """Base records (in index order) then overlay records that satisfy ``predicate``."""
        yield from self._scan_base(entity, predicate, low_ms, high_ms)
        yield from (r for r in list(self._overlay[entity].records.values()) if predicate(r))

    def _scan_base(
        self,
        entity: str,
        predicate,
        low_ms,
        high_ms,
        low_index: int = 0,
        lazy: bool = False,
        backwards: bool = False,
    ) -> Iterator[dict]:
        gen = self.gen
        size = gen.sizes[entity]
        start = 0 if low_ms is None else gen.first_index_at_or_after(entity, low_ms)
        start = max(start, low_index)
        stop = size if high_ms is None else gen.first_index_at_or_after(entity, high_ms + 1)
        hidden = self._overlay[entity].hidden
        header = gen.header
        if lazy:  # keys and timestamps only; the page writer generates the rest from "_i"
            light = self.fused.light
            header = lambda entity, i: light(entity, i)  # noqa: E731
        for i in range(stop - 1, start - 1, -1) if backwards else range(start, stop):
            if i in hidden:
                continue
            rec = header(entity, i)
            rec["_i"] = i
            if predicate(rec):
                yield rec

    def query(
        self,
        entity: str,
        predicate: Callable[[dict], bool],
        order: list[tuple[str, bool]],
        skip: int,
        top: int | None,
        low_ms: int | None = None,
        high_ms: int | None = None,
        match_all: bool = False,
        lazy: bool = False,
        accept: tuple[int | None, int | None] | None = None,
    ) -> list[dict]:
        """Matching records in ``order``, after skipping ``skip`` and keeping at most ``top``.

        ``lazy``: base records carry only ``FusedRules.light_fields`` (the caller checked that the
        predicate and the order read nothing else) and are rendered by a fused writer.
        ``accept`` (lazy only): the predicate holds for every base record whose timestamp (epoch ms) is
        in this interval [A, B) (``odata.timestamp_accept``); such records are taken without evaluating
        it and carry only ``_i``.
        """
        keyfn = self.sort_key(entity, order)
        overlay = [r for r in list(self._overlay[entity].records.values()) if predicate(r)]
        if (
            lazy
            and accept is not None
            and not overlay
            and top is not None
            and self._streams_in_index_order(entity, order)
        ):
            return self._lazy_page(entity, predicate, low_ms, high_ms, accept, skip, top)
        if self._streams_in_index_order(entity, order):
            # Base records already come in this order: merge lazily and stop at skip + top.
            overlay.sort(key=keyfn)
            changes = self._overlay[entity]
            if match_all and not changes.hidden and not changes.records and low_ms is None:
                # Untouched entity, no filter: $skip is an index into the base sequence.
                low_index, skip = skip, 0
            else:
                low_index = 0
            base = self._scan_base(entity, predicate, low_ms, high_ms, low_index, lazy)
            # Without overlay records the base records are the page's order already (and the merge
            # would compute every scanned record's sort key for nothing).
            merged = heapq.merge(base, overlay, key=keyfn) if overlay else base
            stop = None if top is None else skip + top
            return list(itertools.islice(merged, skip, stop))
        if (
            top is not None
            and order
            and all(descending for _, descending in order)
            and self._streams_in_index_order(entity, [(name, False) for name, _ in order])
        ):
            # Exactly descending index order (e.g. ``$orderby=LastModifiedDateTime desc``, a read's
            # "latest value" probe): the page's records are among the last ones, so read from the end,
            # ties of the last one kept, instead of every record.
            base = self._last_base(entity, predicate, keyfn, skip + top, low_ms, high_ms, lazy)
        else:
            base = list(self._scan_base(entity, predicate, low_ms, high_ms, lazy=lazy))
        rows = base + overlay
        for name, descending in reversed(order):
            rows.sort(key=self.sort_key(entity, [(name, False)]), reverse=descending)
        return rows[skip:] if top is None else rows[skip : skip + top]

    def _last_base(
        self, entity: str, predicate, keyfn, count: int, low_ms, high_ms, lazy: bool
    ) -> list[dict]:
        """The last ``count`` matching base records in index order, and every one tied with the first
        of them on ``keyfn``: all a descending sort's first ``count`` can hold."""
        last: list[dict] = []
        for rec in self._scan_base(entity, predicate, low_ms, high_ms, lazy=lazy, backwards=True):
            if last and len(last) >= count and keyfn(rec) != keyfn(last[-1]):
                break
            last.append(rec)
        last.reverse()
        return last

    def _lazy_page(
        self,
        entity: str,
        predicate,
        low_ms,
        high_ms,
        accept: tuple[int | None, int | None],
        skip: int,
        top: int,
    ) -> list[dict]:
        """``query`` for base records only, in index order: the predicate is evaluated outside the
        indexes whose timestamps are in ``accept`` (past the keyset's tie group, before the window's
        last millisecond) and assumed inside."""
        gen = self.gen
        size = gen.sizes[entity]
        start = 0 if low_ms is None else gen.first_index_at_or_after(entity, low_ms)
        stop = size if high_ms is None else gen.first_index_at_or_after(entity, high_ms + 1)
        first = start if accept[0] is None else gen.first_index_at_or_after(entity, accept[0])
        first = min(stop, max(start, first))
        end = stop if accept[1] is None else gen.first_index_at_or_after(entity, accept[1])
        end = min(stop, max(first, end))
        hidden = self._overlay[entity].hidden
        want = skip + top
        out: list[dict] = []
        light = self.fused.light

        def evaluate(indexes: range) -> None:
            for i in indexes:
                if len(out) >= want:
                    return
                if i not in hidden and predicate(rec := light(entity, i)):
                    out.append(rec)

        evaluate(range(start, first))
        need = want - len(out)
        if need > 0:
            if hidden:
                found = (i for i in range(first, end) if i not in hidden)
                out += [{"_i": i} for i in itertools.islice(found, need)]
            else:
                out += [{"_i": i} for i in range(first, min(end, first + need))]
        evaluate(range(end, stop))
        return out[skip:]

    def _streams_in_index_order(self, entity: str, order: list[tuple[str, bool]]) -> bool:
        if any(descending for _, descending in order):
            return False
        names = [name for name, _ in order]
        keys = list(KEY_FIELDS[entity])
        if names == keys[: len(names)]:
            return True
        if names and names[0] in TIMESTAMP_FIELDS:
            return names[1:] == keys[: len(names) - 1]
        return False


def detail_type(entity: str, versions: tuple[str, ...]) -> str:
    return catalog.element_type(union_fields(entity, versions)[SPECS[entity].detail])


def _new_guid(kind: str, n: int) -> str:
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"acumatica-emulator/{kind}/{n}"))


def _plain(values: dict, entity: str, versions: tuple[str, ...]) -> dict:
    """Accept plain or wrapped ({"value": x}) field values; DecimalValue becomes Decimal."""
    fields = union_fields(entity, versions)
    out = {}
    for name, value in values.items():
        if isinstance(value, dict) and set(value) <= {"value"} and name != "custom":
            value = value.get("value")
        ftype = fields.get(name)
        if ftype == "DecimalValue" and value is not None:
            value = Decimal(str(value)).quantize(Decimal("0.01"))
        if name == "custom" or ftype is None or catalog.is_scalar(ftype):
            out[name] = value
    return out


def _values(line: dict) -> dict:
    return {k: v for k, v in line.items() if k not in ("id", "rowNumber", "delete", "note", "_links")}


def _decimal(value):
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _custom_subset(custom: dict, wanted: set[str], prefix: str) -> dict:
    out: dict[str, dict] = {}
    for view, fields in custom.items():
        for name, value in fields.items():
            if f"{prefix}{view}.{name}" in wanted:
                out.setdefault(view, {})[name] = value
    return out


def _export(rec: dict) -> dict:
    return {k: v for k, v in copy.deepcopy(rec).items() if not k.startswith("_")}
