"""The entities tap-acumatica reads out of the box, in Acumatica's own names.

Each entry declares what a stream is; how it is read lives in ``client.AcumaticaStream``.
More entities can be added with the ``extra_entities`` setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlc_run_audit.checks import SettingError, check_name


@dataclass(frozen=True)
class EntityStream:
    """One stream: which entity, its natural key, and which detail arrays it keeps."""

    name: str
    entity: str
    key_properties: tuple[str, ...]
    expand: tuple[str, ...] = ()
    description: str = ""
    #: None picks the newest timestamp field the endpoint version has; "" forces full table.
    replication_key: str | None = None
    schema: dict[str, Any] | None = field(default=None, compare=False)


#: Timestamp fields an entity may offer, best first. StockItem has only ``LastModified``
#: before 24.200.001; SalesInvoice has none before 23.200.001 and Subaccount none at all.
REPLICATION_KEY_CANDIDATES = ("LastModifiedDateTime", "LastModified")

BUILTIN_STREAMS: tuple[EntityStream, ...] = (
    EntityStream("vendors", "Vendor", ("VendorID",), description="AP vendors (AP303000)."),
    EntityStream(
        "bills",
        "Bill",
        ("Type", "ReferenceNbr"),
        ("Details",),
        "AP bills, debit and credit adjustments (AP301000), with lines in Details.",
    ),
    EntityStream(
        "purchase_orders",
        "PurchaseOrder",
        ("Type", "OrderNbr"),
        ("Details",),
        "Purchase orders (PO301000), with lines in Details.",
    ),
    EntityStream(
        "ap_payments",
        "Check",
        ("Type", "ReferenceNbr"),
        ("Details",),
        "AP payments, prepayments and refunds: entity Check (AP302000), applications in Details.",
    ),
    EntityStream("gl_accounts", "Account", ("AccountCD",), description="GL accounts (GL202500)."),
    EntityStream(
        "subaccounts",
        "Subaccount",
        ("SubaccountCD",),
        description="GL subaccounts (GL203000); no timestamp field, read in full each run.",
    ),
    EntityStream(
        "journal_transactions",
        "JournalTransaction",
        ("Module", "BatchNbr"),
        ("Details",),
        "GL journal transactions (GL301000), with journal lines in Details.",
    ),
    EntityStream(
        "sales_invoices",
        "SalesInvoice",
        ("Type", "ReferenceNbr"),
        ("Details",),
        "SO invoices (SO303000); incremental from endpoint 23.200.001, full table before.",
    ),
    EntityStream(
        "invoices",
        "Invoice",
        ("Type", "ReferenceNbr"),
        ("Details",),
        "AR invoices and memos (AR301000), with lines in Details.",
    ),
    EntityStream("customers", "Customer", ("CustomerID",), description="Customers (AR303000)."),
    EntityStream(
        "stock_items",
        "StockItem",
        ("InventoryID",),
        description="Stock items (IN202500); LastModified before 24.200.001.",
    ),
)


def extra_stream(spec: dict[str, Any]) -> EntityStream:
    """A stream from one ``extra_entities`` entry of the config. Its name, and the property names of
    its schema, reach the loaders as table and column names: unsafe ones are refused, not renamed
    (the fields of Acumatica entities are plain identifiers)."""
    missing = [k for k in ("name", "entity", "key_properties") if not spec.get(k)]
    if missing:
        entry = spec.get("name") or spec.get("entity")
        msg = f"Setting extra_entities: entry {entry!r} lacks {', '.join(missing)}."
        raise SettingError(msg)
    check_name(spec["name"], "Setting extra_entities: stream name")
    where = f"Setting extra_entities, stream {spec['name']}:"
    for key in spec["key_properties"]:
        check_name(key, f"{where} key property")
    if spec.get("replication_key"):
        check_name(spec["replication_key"], f"{where} replication_key")
    for prop in (spec.get("schema") or {}).get("properties") or {}:
        check_name(prop, f"{where} schema property")
    return EntityStream(
        name=spec["name"],
        entity=spec["entity"],
        key_properties=tuple(spec["key_properties"]),
        expand=tuple(spec.get("expand") or ()),
        description=spec.get("description") or f"Acumatica entity {spec['entity']} (from extra_entities).",
        replication_key=spec.get("replication_key"),
        schema=spec.get("schema"),
    )
