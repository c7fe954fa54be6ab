"""The record store: each object's lazy base sequence plus an overlay of changes, and AUDITHISTORY.

Inserted and modified records live in the overlay; modified and deleted base records are hidden from
the base sequence by index. Scans merge both in RECORDNO or (WHENMODIFIED, RECORDNO) order, jumping
into the base sequence at the bounds a filter puts on either.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .clock import UserClock
from .config import Knobs
from .generator import Generator
from .schema import OBJECTS, TIMESTAMP, ObjectDef

Predicate = Callable[[dict], bool]


class RecordNotFound(KeyError):
    """No current record of the object has that RECORDNO."""


class UnknownObject(KeyError):
    """The gateway has no object of that name."""


@dataclass
class Overlay:
    hidden: set[int] = field(default_factory=set)
    records: dict[int, dict] = field(default_factory=dict)
    next_key: int = 0


@dataclass
class Scan:
    """What to read from one object: a predicate, and base bounds it implies.

    ``lo``/``hi`` bound the base indices that can match; ``exact`` says every unhidden base index in
    them matches (the predicate need not run on base records). ``light`` says the predicate reads only
    fields of ``Generator.light``.
    """

    obj: ObjectDef
    predicate: Predicate
    lo: int
    hi: int
    exact: bool
    light: bool


class RecordStore:
    """Current records of every object; also the mutation API tests use between pages.

    Records are dicts of Intacct's strings, every field present ('' for empty).
    """

    def __init__(self, generator: Generator, clock: UserClock, knobs: Knobs) -> None:
        self.gen = generator
        self.clock = clock
        self.knobs = knobs
        self._lock = threading.RLock()
        self._overlay = {name: Overlay(next_key=generator.sizes[name]) for name in OBJECTS}
        #: Bumped on every change; cached counts are keyed on it.
        self.version = 0

    # ---- lookup ---------------------------------------------------------------------------
    def obj(self, name: str) -> ObjectDef:
        obj = OBJECTS.get(name.upper())
        if obj is None:
            raise UnknownObject(name)
        return obj

    def size(self, name: str) -> int:
        return self.gen.sizes[name]

    def find(self, name: str, key: int) -> dict:
        obj = self.obj(name)
        overlay = self._overlay[obj.name]
        with self._lock:
            rec = overlay.records.get(int(key))
            if rec is not None:
                return rec
            i = int(key) - 1
            if 0 <= i < self.gen.sizes[obj.name] and i not in overlay.hidden:
                return self.gen.record(obj.name, i)
        raise RecordNotFound(f"{obj.name} {key}")

    def full(self, name: str, rec: dict) -> dict:
        """The whole record for a scanned (possibly light) one."""
        if rec.get("_light"):
            return self.gen.record(name, rec["_i"])
        return rec

    def records(self, name: str) -> list[dict]:
        """Every current record in key order, as the gateway serves them (no internal fields)."""
        obj = self.obj(name)
        scan = Scan(obj, lambda r: True, 0, self.gen.sizes[obj.name], True, True)
        return [_public(self.full(obj.name, r)) for r in self.scan(scan, [(obj.key, False)])]

    # ---- mutation API ---------------------------------------------------------------------
    def insert(self, name: str, values: dict) -> int:
        """Add a record; returns its RECORDNO. WHENCREATED/WHENMODIFIED become 'now'."""
        obj = self.obj(name)
        with self._lock:
            overlay = self._overlay[obj.name]
            overlay.next_key += 1
            key = overlay.next_key
            rec = dict.fromkeys(obj.field_names, "")
            rec.update(_strings(obj, values))
            rec[obj.key] = str(key)
            now = self.clock.now(self.knobs.strictly_increasing_changes)
            stamp = self.clock.timestamp(now)
            if obj.timestamp == "WHENMODIFIED":
                rec["WHENCREATED"] = rec["WHENMODIFIED"] = stamp
            else:
                rec[obj.timestamp] = rec[obj.timestamp] or stamp
            rec["_ts"] = now
            overlay.records[key] = rec
            self.version += 1
            if obj.name != "AUDITHISTORY":
                self._audit(obj, key, "C", now, rec)
            return key

    def modify(self, name: str, key: int, values: dict) -> dict:
        """Change fields of a record; its WHENMODIFIED becomes 'now'. Returns the record."""
        obj = self.obj(name)
        with self._lock:
            current = self.find(obj.name, key)
            rec = {k: v for k, v in current.items() if k != "_i"}
            rec.update(_strings(obj, values))
            rec[obj.key] = str(key)
            now = self.clock.now(self.knobs.strictly_increasing_changes)
            rec["WHENMODIFIED"] = self.clock.timestamp(now)
            rec["_ts"] = now
            overlay = self._overlay[obj.name]
            if "_i" in current:
                overlay.hidden.add(current["_i"])
            overlay.records[int(key)] = rec
            self.version += 1
            self._audit(obj, int(key), "M", now, rec)
            return _public(rec)

    def delete(self, name: str, key: int) -> None:
        """Remove a record; an AUDITHISTORY entry with ACCESSMODE D records it."""
        obj = self.obj(name)
        with self._lock:
            current = self.find(obj.name, key)
            overlay = self._overlay[obj.name]
            if "_i" in current:
                overlay.hidden.add(current["_i"])
            overlay.records.pop(int(key), None)
            self.version += 1
            self._audit(obj, int(key), "D", self.clock.now(self.knobs.strictly_increasing_changes), current)

    def _audit(self, obj: ObjectDef, key: int, mode: str, now: int, rec: dict) -> None:
        audit = OBJECTS["AUDITHISTORY"]
        overlay = self._overlay[audit.name]
        overlay.next_key += 1
        n = overlay.next_key
        label = next((rec.get(f) for f in obj.field_names[1:3] if rec.get(f)), "")
        entry = dict.fromkeys(audit.field_names, "")
        entry.update(
            ID=str(n),
            OBJECTTYPE=obj.name.lower(),
            OBJECTKEY=f"{key}{self.knobs.audit_objectkey_suffix}",
            OBJECTDESC=f"{obj.name} {label}".strip(),
            USERID="sandbox-user",
            ACCESSMODE=mode,
            ACCESSTIME=self.clock.timestamp(now),
            IPADDRESS="127.0.0.1",
            SOURCE="api",
        )
        entry["_ts"] = now
        overlay.records[n] = entry

    # ---- scans ----------------------------------------------------------------------------
    def sort_key(self, obj: ObjectDef, order: list[tuple[str, bool]]) -> Callable[[dict], tuple]:
        from .filters import converter

        collation = self.knobs.text_collation
        convs = [(name, converter(obj, name, self.clock, collation=collation)) for name, _ in order]

        def key(rec: dict) -> tuple:
            out = []
            for name, conv in convs:
                value = rec["_ts"] if name == obj.timestamp and "_ts" in rec else conv(rec.get(name))
                out.append((0, 0) if value is None else (1, value))
            return tuple(out)

        return key

    def streams(self, obj: ObjectDef, order: list[tuple[str, bool]]) -> bool:
        """Whether base index order is this order (so pages can merge lazily)."""
        names = [n for n, desc in order if not desc]
        if len(names) != len(order):
            return False
        return names in ([], [obj.key], [obj.timestamp], [obj.timestamp, obj.key]) and (
            obj.timestamp in obj.by_name and obj.by_name[obj.timestamp].datatype == TIMESTAMP
        )

    def _base(self, scan: Scan, start: int) -> Iterator[dict]:
        name = scan.obj.name
        gen = self.gen
        hidden = self._overlay[name].hidden
        make = gen.light if scan.light or scan.exact else gen.record
        pred = scan.predicate
        for i in range(max(start, scan.lo), min(scan.hi, gen.sizes[name])):
            if i in hidden:
                continue
            rec = make(name, i)
            if scan.exact or pred(rec):
                yield rec

    def _overlay_matches(self, scan: Scan) -> list[dict]:
        with self._lock:
            recs = list(self._overlay[scan.obj.name].records.values())
        return [r for r in recs if scan.predicate(r)]

    def scan(
        self,
        scan: Scan,
        order: list[tuple[str, bool]],
        skip: int = 0,
        limit: int | None = None,
        after_key: int | None = None,
    ) -> list[dict]:
        """Matching records (light or full) in ``order``; ``after_key`` continues a key-ordered scan."""
        obj = scan.obj
        keyfn = self.sort_key(obj, order or [(obj.key, False)])
        overlay = self._overlay_matches(scan)
        if after_key is not None:
            overlay = [r for r in overlay if int(r[obj.key]) > after_key]
        stop = None if limit is None else skip + limit
        if self.streams(obj, order):
            overlay.sort(key=keyfn)
            start = 0 if after_key is None else after_key
            hidden = self._overlay[obj.name].hidden
            if scan.exact and skip and not hidden:
                # every unhidden base index in bounds matches: skip base records by arithmetic
                base_lo = max(start, scan.lo)
                jump = min(skip, max(0, min(scan.hi, self.size(obj.name)) - base_lo))
                if jump and (
                    not overlay or keyfn(overlay[0]) > keyfn(self.gen.light(obj.name, base_lo + jump - 1))
                ):
                    start, skip = base_lo + jump, skip - jump
                    stop = None if limit is None else skip + limit
            merged = heapq.merge(self._base(scan, start), overlay, key=keyfn)
            return list(itertools.islice(merged, skip, stop))
        rows = [self.full(obj.name, r) for r in self._base(scan, 0 if after_key is None else after_key)]
        rows += overlay
        for name, descending in reversed(order):
            rows.sort(key=self.sort_key(obj, [(name, False)]), reverse=descending)
        return rows[skip:stop]

    def count(self, scan: Scan) -> int:
        name = scan.obj.name
        overlay = len(self._overlay_matches(scan))
        if scan.exact:
            hi = min(scan.hi, self.size(name))
            hidden = self._overlay[name].hidden
            n = max(0, hi - scan.lo)
            if hidden:
                n -= sum(1 for i in hidden if scan.lo <= i < hi)
            return n + overlay
        return sum(1 for _ in self._base(scan, 0)) + overlay


def _public(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def _strings(obj: ObjectDef, values: dict) -> dict:
    out = {}
    for name, value in values.items():
        name = name.upper()
        if name not in obj.by_name:
            raise ValueError(f"{obj.name} has no field {name}")
        if isinstance(value, bool):
            value = "true" if value else "false"
        out[name] = "" if value is None else str(value)
    return out
