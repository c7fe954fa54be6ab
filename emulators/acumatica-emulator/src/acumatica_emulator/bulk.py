"""Bulk fused rules: a whole page of base records rendered at once with numpy.

The per-record fused rule (``fused.FusedRules._Bill``) spends most of its time on 64-bit hashes
and GUIDs in pure Python and on a %-substitution per record. Here the same rule is re-stated over
an array of record indices: hashes, amounts and GUIDs are computed for all records (and all their
lines) together, and every value becomes a column of ASCII in an ``(n, width)`` uint8 array,
padded with NUL bytes to the page's widest value. A page is a row template (the constant JSON of
``compiled.fused_layout`` with NUL-filled slots) copied into a reused buffer once per record, the
value columns written into their slots, then ``tobytes().replace(b"\\0", b"")``, which drops
the padding: generated JSON never contains NUL. Output is byte-identical to the per-record writer
and to the general msgspec path; tests/acumatica_emulator/test_emulator_render.py compares them.
"""

from __future__ import annotations

import threading

import numpy as np

from .compiled import ROW
from .fused import CUSTOM, DAY_MS, FALSE, FIELDS, TRUE
from .generator import EXPENSE_ACCOUNTS, ITEMS

U = np.uint64
C0, C1, C2 = U(0x9E3779B97F4A7C15), U(0xBF58476D1CE4E5B9), U(0x94D049BB133111EB)
S30, S27, S31 = U(30), U(27), U(31)
HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
#: Largest record index whose GUIDs keep their 12 hex digits ((i + 1) * 1024 < 16**12).
MAX_INDEX = 16**12 // 1024 - 2


def mix(x: np.ndarray) -> np.ndarray:
    """generator.mix over a uint64 array (wrap-around multiplication is the & M64)."""
    x = x + C0
    x = (x ^ (x >> S30)) * C1
    x = (x ^ (x >> S27)) * C2
    return x ^ (x >> S31)


def const(text: str | bytes, n: int) -> np.ndarray:
    raw = text.encode() if isinstance(text, str) else text
    return np.broadcast_to(np.frombuffer(raw, np.uint8), (n, len(raw)))


#: 10**k for k = 0..18, and for a column of ``width``: the place values left to right.
POW10 = 10 ** np.arange(19, dtype=np.int64)
#: The two ASCII hex digits of every byte value, as one little-endian uint16 ("ab" -> 0x6261).
HEX2 = np.array([ord("%x" % (b >> 4)) | ord("%x" % (b & 15)) << 8 for b in range(256)], np.uint16)


def digits(v: np.ndarray, width: int | None = None, zero: bool = False) -> np.ndarray:
    """Decimal digits of non-negative ints, right-aligned in ``width`` columns; leading
    positions are NUL (dropped later), or '0' when ``zero`` (str.zfill)."""
    v = v.astype(np.int64)
    if width is None:
        width = len(str(int(v.max()))) if len(v) else 1
    places = POW10[width - 1 :: -1]
    out = (v[:, None] // places % 10 + 48).astype(np.uint8)
    if not zero and width > 1:
        out[v[:, None] < places * (np.arange(width) < width - 1)] = 0
    return out


def hexits(v: np.ndarray, width: int) -> np.ndarray:
    """Lower-case hex of uint64 values, exactly ``width`` (even) digits: the low 4*width bits."""
    big = v.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - width // 2 :]
    return HEX2[big].view(np.uint8)


def table(texts: list[str]) -> np.ndarray:
    """Rows of ``texts`` as a NUL-padded (len, width) uint8 array."""
    raw = [t.encode() for t in texts]
    width = max(1, max(map(len, raw), default=1))
    return np.frombuffer(b"".join(r.ljust(width, b"\0") for r in raw), np.uint8).reshape(-1, width)


def lookup(values: np.ndarray, make) -> np.ndarray:
    """``make(value)`` for each value, computed once per distinct value."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return table([make(int(u)) for u in uniq.tolist()])[inverse.reshape(-1)]


def cat(*parts) -> np.ndarray:
    return np.concatenate(parts, axis=1)


#: ".00" to ".99" as rows of 3 bytes.
CENT_ROWS = np.frombuffer("".join(f".{c:02d}" for c in range(100)).encode(), np.uint8).reshape(100, 3)


def money(cents: np.ndarray) -> np.ndarray:
    """fused.money_json for non-negative cents."""
    return cat(digits(cents // 100), CENT_ROWS[(cents % 100).astype(np.intp)])


def guid(tag: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """generator._guid over arrays (``b`` < 16**12)."""
    out = np.empty((len(a), 36), np.uint8)
    s = hexits(a, 16)
    out[:, 0:8] = s[:, 0:8]
    out[:, 8] = out[:, 13] = ord("-")
    out[:, 9:13] = s[:, 8:12]
    out[:, 14] = ord("4")
    out[:, 15:18] = s[:, 12:15]
    out[:, 18:24] = np.frombuffer(f"-{tag:04x}-".encode(), np.uint8)
    out[:, 24:36] = hexits(b, 12)
    return out


def group_ms(gen, entity: str, g: np.ndarray) -> np.ndarray:
    """Generator.ts_ms of the records in timestamp groups ``g`` (uint64)."""
    step = gen._step[entity]
    ts = g.astype(np.int64) * step + gen.clock.history_start_ms
    if step > 1000:
        ts += (mix(U(gen._salt[entity]) ^ (g * U(7919))) % U(1000)).astype(np.int64)
    return ts


class BulkBill:
    """Columns of a page of base Bills (indices ``index``), keyed like the fused rule's output."""

    def __init__(self, rules, index: np.ndarray, null: str) -> None:
        self.rules, self.gen = rules, rules.gen
        self.n = len(index)
        self.index = index.astype(U)
        self.null = null
        self._cache: dict[int, np.ndarray] = {}
        header, line = FIELDS["Bill"]
        header_custom, line_custom = CUSTOM["Bill"]
        self.header_names = [None] * len(header)
        for name, (pos, _) in header.items():
            self.header_names[pos] = name
        self.line_names = [None] * len(line)
        for name, (pos, _) in line.items():
            self.line_names[pos] = name
        self.header_size = len(header) + len(header_custom)
        self.line_size = len(line) + len(line_custom)
        self.header_fields = len(header)
        self.line_fields = len(line)
        gen = self.gen
        salt = U(gen._salt["Bill"])
        self.h = mix(salt ^ (self.index * U(0x2545F4914F6CDD1D)))
        lines = gen.lines
        # Line values are computed for all lines at once: arrays of lines * n, line j at [j*n:(j+1)*n].
        j = np.repeat(np.arange(lines, dtype=U), self.n)
        a = mix(np.tile(self.h, lines) + j)  # Generator._amount_lines
        self.qty = a % U(5) + U(1)
        self.unit = (a >> U(8)) % U(50_000) + U(99)
        self.cost = self.qty * self.unit
        self.total = self.cost.reshape(lines, self.n).sum(axis=0, dtype=U)
        self.status = ((self.h >> U(40)) % U(4)).astype(np.intp)
        self.line_n = np.tile(self.index * U(1024), lines) + j
        salt2 = U(gen._salt["Bill"] ^ 0x5BD1E995)
        self.a = mix(salt2 + self.line_n)  # Generator.lines_of
        self._all: dict[str, np.ndarray] = {}

    # ---- shared values ------------------------------------------------------------------
    def column(self, pos: int) -> np.ndarray:
        out = self._cache.get(pos)
        if out is None:
            if pos < self.header_size:
                if pos < self.header_fields:
                    out = getattr(self, "h_" + self.header_names[pos])()
                else:
                    out = self.h_custom(pos - self.header_fields)
            else:
                j, k = divmod(pos - self.header_size, self.line_size)
                name = self.line_names[k] if k < self.line_fields else f"custom{k - self.line_fields}"
                every = self._all.get(name)
                if every is None:
                    every = self._all[name] = getattr(self, "l_" + name)()
                out = every[j * self.n : (j + 1) * self.n]
            self._cache[pos] = out
        return out

    def ts_ms(self) -> np.ndarray:
        return group_ms(self.gen, "Bill", self.index // U(self.gen.group))

    def _days(self) -> np.ndarray:
        """Per record, the index into ``self._day_rows`` of its (Date, DueDate, PostPeriod)."""
        if not hasattr(self, "_day_of"):
            doc_ms = self.ts_ms() - ((self.h >> U(20)) % U(5)).astype(np.int64) * DAY_MS
            offset = self.rules._offset
            uniq, inverse = np.unique((doc_ms + offset) // DAY_MS, return_inverse=True)
            self._day_rows = [self.rules._day(int(d) * DAY_MS - offset) for d in uniq.tolist()]
            self._day_of = inverse.reshape(-1)
        return self._day_of

    def _day_column(self, k: int) -> np.ndarray:
        of = self._days()
        return table([row[k] for row in self._day_rows])[of]

    def _vendor(self) -> np.ndarray:
        if not hasattr(self, "_vendor_col"):
            gen = self.gen
            n = (self.h >> U(3)) % U(max(1, gen.sizes.get("Vendor", 1))) + U(1)
            self._vendor_col = cat(const("V", self.n), digits(n, gen._width["Vendor"], zero=True))
        return self._vendor_col

    def _ref(self) -> np.ndarray:
        if not hasattr(self, "_ref_col"):
            self._ref_col = digits((self.h >> U(7)) % U(90000) + U(10000), 5)
        return self._ref_col

    # ---- header fields (names as in fused.FIELDS) ---------------------------------------
    def h_id(self):
        return guid(self.gen._tag["Bill"], mix(U(self.gen._salt["Bill"]) + self.index), self.index)

    def h_Type(self):
        return const("Bill", self.n)

    def h_ReferenceNbr(self):
        return digits(self.index + U(1), self.gen._width["Bill"], zero=True)

    def h_Vendor(self):
        return self._vendor()

    def h_Status(self):
        return table(["Open", "Open", "Closed", "Balanced"])[self.status]

    def h_Amount(self):
        return money(self.total)

    def h_Balance(self):
        return money(np.where(self.status == 2, U(0), self.total))

    def h_Date(self):
        return self._day_column(0)

    def h_DueDate(self):
        return self._day_column(1)

    def h_PostPeriod(self):
        return self._day_column(2)

    def h_Description(self):
        n = self.n
        return cat(const("Invoice INV-", n), self._ref(), const(" from ", n), self._vendor())

    def h_VendorRef(self):
        return cat(const("INV-", self.n), self._ref())

    def h_Hold(self):
        hold = (self.status == 3) & (self.h % U(3) == U(0))
        return table([FALSE, TRUE])[hold.astype(np.intp)]

    def h_ApprovedForPayment(self):
        return table([TRUE, FALSE])[(self.status == 3).astype(np.intp)]

    def h_TaxTotal(self):
        return const("0.00", self.n)

    def h_LastModifiedDateTime(self):
        """clock.format_ms of the record's timestamp: local ISO text with ms, then the offset
        (formatted once per group of records sharing it)."""
        gen = self.gen
        clock = gen.clock
        suffix = clock.format_ms(clock.history_start_ms)[23:]
        groups, inverse = np.unique(self.index // U(gen.group), return_inverse=True)
        local = (group_ms(gen, "Bill", groups) + self.rules._offset).astype("datetime64[ms]")
        text = np.datetime_as_string(local, unit="ms").astype("S23")
        rows = cat(text.view(np.uint8).reshape(len(groups), 23), const(suffix, len(groups)))
        return rows[inverse.reshape(-1)]

    def h_custom(self, k: int):
        n, h = self.n, self.h
        if k == 0:  # Document.UsrApprovalCode
            return cat(const('"A-', n), digits((h >> U(5)) % U(100), 2), const('"', n))
        return cat(const('"CC-', n), digits((h >> U(11)) % U(5) + U(1), 1), const('00"', n))

    # ---- line fields, for every line at once ----------------------------------------------
    def l_id(self):
        return guid(self.gen._tag["Bill"] ^ 0x4000, self.a, self.line_n)

    def l_Account(self):
        return table(EXPENSE_ACCOUNTS)[((self.a >> U(4)) % U(len(EXPENSE_ACCOUNTS))).astype(np.intp)]

    def l_Qty(self):
        return cat(digits(self.qty, 1), const(".00", len(self.a)))

    def l_UnitCost(self):
        return money(self.unit)

    def l_Amount(self):
        return money(self.cost)

    def l_ExtendedCost(self):
        return self.column_all("Amount")

    def l_TransactionDescription(self):
        return table(ITEMS)[(self.a % U(len(ITEMS))).astype(np.intp)]

    def l_Description(self):
        return self.column_all("TransactionDescription")

    def l_InventoryID(self):
        gen, a = self.gen, self.a
        size = max(1, gen.sizes.get("StockItem", 1))
        n = ((a >> U(9)) % U(size) + U(1)).astype(np.int64)
        n[a % U(3) != U(0)] = 0  # no item: the null style
        null = self.null
        return lookup(n, lambda k: f'{{"value":"{gen.inventory_id(k)}"}}' if k else null)

    def l_TaxCategory(self):
        return const("EXEMPT", len(self.a))

    def l_custom0(self):  # Transactions.UsrProjectPhase
        m = len(self.a)
        return cat(const('"Phase ', m), digits(self.a % U(4) + U(1), 1), const('"', m))

    def column_all(self, name: str) -> np.ndarray:
        every = self._all.get(name)
        if every is None:
            every = self._all[name] = getattr(self, "l_" + name)()
        return every


BULK = {"Bill": BulkBill}
#: Largest page buffer kept for reuse per thread (about 4,000 Bills with lines).
SCRATCH_MAX = 16 << 20
_local = threading.local()


class BulkWriter:
    """Renders base records of one page plan from their indices, all at once."""

    def __init__(self, rules, entity: str, layout: list[str | int], empty_nulls: bool) -> None:
        self.rules = rules
        self.make = BULK[entity]
        self.layout = [item.encode() if isinstance(item, str) else item for item in layout]
        self.null = "{}" if empty_nulls else '{"value":null}'

    def _scratch(self, size: int) -> np.ndarray:
        """A reused buffer of ``size`` bytes for this thread (fresh pages cost page faults)."""
        if size > SCRATCH_MAX:
            return np.empty(size, np.uint8)
        buf = getattr(_local, "scratch", None)
        if buf is None or len(buf) < size:
            buf = _local.scratch = np.empty(max(size, 1 << 20), np.uint8)
        return buf[:size]

    def render(self, indices: list[int], rows: list[int] | None = None) -> bytes:
        """The JSON array of base records ``indices`` (rowNumbers 1..n when ``rows`` is None)."""
        return self._build(indices, rows, True)

    def parts(self, indices: list[int], rows: list[int]) -> list[bytes]:
        """One JSON object per record (for pages that mix in overlay records)."""
        return self._build(indices, rows, False).split(b"\x01")[:-1]

    def _build(self, indices, rows, page: bool) -> bytes:
        n = len(indices)
        if n == 0:
            return b"[]" if page else b""
        index = np.asarray(indices, dtype=np.int64)
        cols = self.make(self.rules, index, self.null)
        row_numbers = np.arange(1, n + 1) if rows is None else np.asarray(rows, dtype=np.int64)
        # One row per record: constants are laid down by a broadcast copy of a template row, then
        # the value columns are written over their slots (fewer strided copies than concatenate).
        pieces: list = []
        if page:
            first = np.full((n, 1), ord(","), np.uint8)
            first[0, 0] = ord("[")
            pieces.append(first)
        for item in self.layout:
            if isinstance(item, bytes):
                pieces.append(item)
            elif item == ROW:
                pieces.append(digits(row_numbers))
            else:
                pieces.append(cols.column(item))
        if page:
            last = np.zeros((n, 1), np.uint8)
            last[-1, 0] = ord("]")
            pieces.append(last)
        else:
            pieces.append(b"\x01")
        template = bytearray()
        slots = []
        for piece in pieces:
            if isinstance(piece, bytes):
                template += piece
            else:
                slots.append((len(template), piece))
                template += bytes(piece.shape[1])
        buf = self._scratch(n * len(template)).reshape(n, len(template))
        buf[:] = np.frombuffer(template, np.uint8)
        for at, piece in slots:
            buf[:, at : at + piece.shape[1]] = piece
        return buf.tobytes().replace(b"\0", b"")
