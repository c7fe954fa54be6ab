"""Contract-4 JSON of records: wrapped values, $select, $expand and $custom, as a cached plan.

A plan is compiled once per (entity, version, $select, $expand, $custom) so that rendering a page
is a loop over precomputed field lists, then one msgspec encode of the whole page.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from acumatica_client import catalog

from .compiled import compile_fused_writer, compile_page_writer, fused_layout
from .fused import CUSTOM, FIELDS
from .generator import SPECS
from .odata import QueryError, split_list

try:  # numpy renders whole pages of base records at once (bulk.py); without it, one by one
    from .bulk import BULK, MAX_INDEX, BulkWriter
except ImportError:  # pragma: no cover - numpy is a dependency; this keeps a bare install working
    BULK, MAX_INDEX, BulkWriter = {}, -1, None

ENCODER = msgspec.json.Encoder(decimal_format="number")
#: Pages with fewer base records than this use the per-record writer (numpy has a fixed cost).
BULK_MIN = 48
NULL = {"value": None}
EMPTY: dict = {}


class RecordPlan:
    """How to render one kind of object (a top-level entity, a detail line or a linked entity)."""

    def __init__(
        self,
        version: str,
        type_name: str,
        select: list[str] | None,
        expand: set[str],
        custom: dict[str, list[tuple[str, str, str]]],
        path: str = "",
    ) -> None:
        fields = catalog.fields(version, type_name)
        self.type_name = type_name
        self.path = path
        own = None if select is None else {s for s in select if "/" not in s}
        nested_select: dict[str, list[str]] = {}
        for item in select or ():
            head, sep, rest = item.partition("/")
            if sep:
                nested_select.setdefault(head, []).append(rest)
        for name in (own or set()) | set(nested_select):
            if name not in fields:
                raise QueryError(f"Field '{path}{name}' is not found in the entity '{type_name}'.")
        self.scalars: list[str] = []
        self.children: list[tuple[str, bool, RecordPlan | None]] = []  # (name, is_detail, plan)
        for name, ftype in fields.items():
            if catalog.is_scalar(ftype):
                if own is None or name in own:
                    self.scalars.append(name)
                continue
            if path + name not in expand:
                continue
            if select is not None and name not in own and name not in nested_select:
                continue
            element = catalog.element_type(ftype)
            sub = None
            if catalog.has_entity(version, element):
                sub_select = nested_select.get(name)
                if name in (own or ()):
                    sub_select = None
                sub = RecordPlan(version, element, sub_select, expand, custom, f"{path}{name}/")
            self.children.append((name, catalog.is_detail(ftype), sub))
        self.custom = custom.get(path, [])


class PagePlan:
    """Renders a list of records of one entity for a request's query options."""

    def __init__(
        self,
        store,
        entity: str,
        version: str,
        select: str | None,
        expand: str | None,
        custom: str | None,
        links_prefix: str,
        empty_nulls: bool,
    ) -> None:
        self.store = store
        self.entity = entity
        expand_set = set(split_list(expand))
        for item in expand_set:  # every parent of a nested expansion must be expanded too
            head = item.rpartition("/")[0]
            if head and head not in expand_set:
                raise QueryError(f"The $expand path '{item}' requires '{head}' to be expanded.")
        custom_map = self._custom_fields(entity, split_list(custom))
        select_list = split_list(select) if select is not None else None
        self.version = version
        self.root = RecordPlan(version, entity, select_list, expand_set, custom_map)
        self.expand_set = expand_set
        self.links = f"{links_prefix}/entity/Default/{version}/{entity}/"
        self.empty_nulls = empty_nulls

    @staticmethod
    def _custom_fields(entity: str, items: list[str]) -> dict[str, list[tuple[str, str, str]]]:
        spec = SPECS[entity]
        out: dict[str, list[tuple[str, str, str]]] = {}
        for item in items:
            prefix, _, ref = item.rpartition("/")
            view, _, name = ref.partition(".")
            table = spec.detail_custom if prefix else spec.custom
            if prefix and prefix != spec.detail:
                table = {}
            ctype = table.get(view, {}).get(name)
            if ctype is None:
                raise QueryError(f"The custom field '{item}' is not found.")
            out.setdefault(prefix + "/" if prefix else "", []).append((view, name, ctype))
        return out

    def render(self, records: list[dict], bulk_min: int = BULK_MIN) -> bytes:
        fast = self._fast()
        if fast is None or not any("_i" in rec for rec in records):
            return ENCODER.encode([self.record(rec, n) for n, rec in enumerate(records, 1)])
        bulk = self._bulk
        if bulk is not None and len(records) >= bulk_min:
            positions = [n for n, rec in enumerate(records) if "_i" in rec]
            indices = [records[n]["_i"] for n in positions]
            if len(indices) >= bulk_min and max(indices) <= MAX_INDEX:
                if len(indices) == len(records):
                    return bulk.render(indices)
                out = [b""] * len(records)
                for n, part in zip(positions, bulk.parts(indices, [n + 1 for n in positions]), strict=True):
                    out[n] = part
                for n, rec in enumerate(records):
                    if "_i" not in rec:
                        out[n] = ENCODER.encode(self.record(rec, n + 1))
                return b"[" + b",".join(out) + b"]"
        parts = [
            fast(rec, n) if "_i" in rec else ENCODER.encode(self.record(rec, n)).decode()
            for n, rec in enumerate(records, 1)
        ]
        parts[0] = "[" + parts[0]  # brackets on the ends: the 3.5 MB page is copied only twice
        parts[-1] += "]"
        return ",".join(parts).encode()

    @property
    def fused(self) -> bool:
        """True when base records are rendered from their index alone (light records will do)."""
        self._fast()
        return self._fused

    def _fast(self):
        """The compiled writer for generated base records (None when not applicable)."""
        if not hasattr(self, "_fast_fn"):
            fused = self.store.fused
            rule = fused.rule(self.entity)
            self._fast_fn = None
            self._bulk = None
            if rule is not None:
                self._fast_fn = compile_fused_writer(self, rule, FIELDS[self.entity], CUSTOM[self.entity])
                if self._fast_fn is not None and self.entity in BULK:
                    layout = fused_layout(self, FIELDS[self.entity], CUSTOM[self.entity])
                    self._bulk = BulkWriter(fused, self.entity, layout, self.empty_nulls)
            self._fused = self._fast_fn is not None
            if self._fast_fn is None:
                self._fast_fn = compile_page_writer(self)
        return self._fast_fn

    def record(self, rec: dict, row: int) -> dict:
        out = self._object(self.root, rec, row, lambda: self.store.lines(self.entity, rec))
        out["_links"] = {"self": self.links + rec["id"]}
        return out

    def _object(self, plan: RecordPlan, rec: dict, row: int, lines: Callable[[], list[dict]] | None) -> dict:
        get = rec.get
        if self.empty_nulls:
            body = {name: (EMPTY if (v := get(name)) is None else {"value": v}) for name in plan.scalars}
        else:
            body = {name: {"value": get(name)} for name in plan.scalars}
        out = {"id": rec.get("id"), "rowNumber": row, "note": {"value": rec.get("note", "")}}
        out.update(body)
        for name, is_detail, sub in plan.children:
            if is_detail:
                if sub is None or lines is None or name != SPECS[self.entity].detail:
                    out[name] = []  # other detail arrays are empty in generated data
                else:
                    out[name] = [self._object(sub, line, j, None) for j, line in enumerate(lines(), 1)]
            elif sub is not None:
                linked = self.store.gen.linked(
                    self.entity, rec, sub.type_name, self.expand_set, sub.path.rstrip("/")
                )
                out[name] = self._object(sub, linked, 1, None)
        custom: dict = {}
        if plan.custom:
            values = rec.get("custom") or {}
            for view, name, ctype in plan.custom:
                custom.setdefault(view, {})[name] = {"type": ctype, "value": values.get(view, {}).get(name)}
        out["custom"] = custom
        return out


def ad_hoc_schema(entity: str, version: str) -> bytes:
    """``$adHocSchema``: a record-shaped object whose ``custom`` lists every custom field."""
    spec = SPECS[entity]
    fields = catalog.fields(version, entity)
    out: dict = {"id": None, "rowNumber": 1, "note": {"value": None}}
    for name, ftype in fields.items():
        if catalog.is_scalar(ftype):
            out[name] = NULL
    if spec.detail and spec.detail in fields:
        out[spec.detail] = [
            {
                "custom": {
                    view: {name: {"type": t, "value": None} for name, t in f.items()}
                    for view, f in spec.detail_custom.items()
                }
            }
        ]
    out["custom"] = {
        view: {name: {"type": t, "value": None} for name, t in f.items()} for view, f in spec.custom.items()
    }
    out["_workflowActions"] = []
    return ENCODER.encode(out)
