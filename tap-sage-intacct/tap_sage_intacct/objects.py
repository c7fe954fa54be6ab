"""The Intacct objects tap-sage-intacct reads out of the box, in Intacct's own names.

Each entry declares what a stream is: object, key, replication key and the fields it
selects with their types (``query`` has no ``select *``). How a stream is read lives in
``stream.IntacctStream``. More objects come from the ``objects`` setting; custom fields from
``lookup`` when ``custom_fields`` is on.

Field types: ``text``, ``integer``, ``decimal`` (amounts, kept exact), ``boolean``, ``date``
(``MM/DD/YYYY``) and ``timestamp`` (``MM/DD/YYYY HH:MM:SS`` in the user's time zone).
"""

from __future__ import annotations

from dataclasses import dataclass

TYPES = ("text", "integer", "decimal", "boolean", "date", "timestamp")
_SHORT = {"int": "integer", "dec": "decimal", "bool": "boolean", "ts": "timestamp", "date": "date"}

#: Intacct ``lookup`` DATATYPE values and the field type each is read as.
LOOKUP_TYPES = {
    "INTEGER": "integer",
    "SEQUENCE": "integer",
    "DECIMAL": "decimal",
    "CURRENCY": "decimal",
    "PERCENT": "decimal",
    "NUMBER": "decimal",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "DATETIME": "timestamp",
}


def lookup_type(datatype: str) -> str:
    return LOOKUP_TYPES.get(datatype.strip().upper(), "text")


def fields(spec: str) -> tuple[tuple[str, str], ...]:
    """``"RECORDNO:int NAME WHENMODIFIED:ts"`` as ((name, type), ...); no suffix is text."""
    out = []
    for item in spec.split():
        name, _, short = item.partition(":")
        out.append((name, _SHORT[short] if short else "text"))
    return tuple(out)


@dataclass(frozen=True)
class LineItems:
    """Detail lines read with their header and kept on it as an array."""

    object: str
    #: The line's field holding its header's RECORDNO.
    parent_field: str
    #: Name of the array on the header record.
    array: str


@dataclass(frozen=True)
class ObjectStream:
    """One stream: an Intacct object, its key, replication key and selected fields."""

    name: str
    object: str
    fields: tuple[tuple[str, str], ...]
    key: str = "RECORDNO"
    #: None: read in full every run (keyset on the key).
    replication_key: str | None = "WHENMODIFIED"
    line_items: LineItems | None = None
    description: str = ""
    #: Read only when the catalog selects it (AUDITHISTORY: every event, large).
    selected_by_default: bool = True
    #: Read every field ``lookup`` lists (setting lookup_fields), not only ``fields``.
    lookup: bool = True


_AUDIT = "WHENCREATED:ts WHENMODIFIED:ts CREATEDBY:int MODIFIEDBY:int"
_ENTITY = "MEGAENTITYKEY:int MEGAENTITYID MEGAENTITYNAME"
_DIMENSIONS = "DEPARTMENTID LOCATIONID CLASSID PROJECTID"


def _object(
    name: str,
    obj: str,
    spec: str,
    description: str,
    *,
    entity: bool = True,
    line_items: LineItems | None = None,
) -> ObjectStream:
    """RECORDNO, the object's own fields, the audit fields and (entity-owned objects) the entity."""
    spec = f"RECORDNO:int {spec} {_AUDIT}" + (f" {_ENTITY}" if entity else "")
    return ObjectStream(name, obj, fields(spec), line_items=line_items, description=description)


VENDOR = _object(
    "vendors",
    "VENDOR",
    "VENDORID NAME VENDTYPE PARENTID TERMNAME TAXID CURRENCY STATUS ONHOLD:bool TOTALDUE:dec "
    "DISPLAYCONTACT.EMAIL1 DISPLAYCONTACT.PHONE1 DISPLAYCONTACT.MAILADDRESS.CITY "
    "DISPLAYCONTACT.MAILADDRESS.STATE DISPLAYCONTACT.MAILADDRESS.ZIP",
    "AP vendors.",
)
CUSTOMER = _object(
    "customers",
    "CUSTOMER",
    "CUSTOMERID NAME CUSTTYPE TERMNAME CURRENCY STATUS CREDITLIMIT:dec TOTALDUE:dec "
    "DISPLAYCONTACT.EMAIL1 DISPLAYCONTACT.MAILADDRESS.CITY",
    "AR customers.",
)
EMPLOYEE = _object(
    "employees",
    "EMPLOYEE",
    "EMPLOYEEID PERSONALINFO.CONTACTNAME TITLE DEPARTMENTID LOCATIONID SUPERVISORID STARTDATE:date STATUS",
    "Employees.",
)
APBILL = _object(
    "ap_bills",
    "APBILL",
    "RECORDID DOCNUMBER VENDORID VENDORNAME DESCRIPTION TERMNAME WHENPOSTED:date WHENDUE:date "
    "WHENPAID:date STATE TOTALENTERED:dec TOTALPAID:dec TOTALDUE:dec CURRENCY BASECURR MODULEKEY",
    "AP bills, with their lines in APBILLITEMS.",
    line_items=LineItems("APBILLITEM", "RECORDKEY", "APBILLITEMS"),
)
APBILLITEM = _object(
    "ap_bill_items",
    "APBILLITEM",
    "RECORDKEY:int LINE_NO:int ACCOUNTNO ACCOUNTTITLE AMOUNT:dec TRX_AMOUNT:dec ENTRYDESCRIPTION "
    f"VENDORID {_DIMENSIONS} CURRENCY",
    "AP bill lines (RECORDKEY is the bill's RECORDNO).",
)
APPYMT = _object(
    "ap_payments",
    "APPYMT",
    "FINANCIALENTITY PAYMENTMETHOD DOCNUMBER VENDORID VENDORNAME DESCRIPTION PAYMENTDATE:date STATE "
    "AMOUNTTOPAY:dec TOTALPAID:dec CURRENCY",
    "AP payments.",
)
APPYMTDETAIL = _object(
    "ap_payment_details",
    "APPYMTDETAIL",
    "PAYMENTKEY:int RECORDKEY:int ENTRYKEY:int PAYMENTAMOUNT:dec TRX_PAYMENTAMOUNT:dec CURRENCY",
    "How each AP payment (PAYMENTKEY) was applied to bills (RECORDKEY) and their lines (ENTRYKEY).",
)
GLACCOUNT = _object(
    "gl_accounts",
    "GLACCOUNT",
    "ACCOUNTNO TITLE ACCOUNTTYPE NORMALBALANCE CLOSINGTYPE STATUS",
    "GL accounts (chart of accounts).",
    entity=False,
)
GLBATCH = _object(
    "gl_batches",
    "GLBATCH",
    "BATCHNO:int BATCH_TITLE JOURNAL REFERENCENO MODULE BATCH_DATE:date STATE",
    "GL journal entries (batches).",
)
GLENTRY = _object(
    "gl_entries",
    "GLENTRY",
    "BATCHNO:int LINE_NO:int TR_TYPE:int ENTRY_DATE:date ACCOUNTNO DESCRIPTION AMOUNT:dec TRX_AMOUNT:dec "
    f"{_DIMENSIONS} CURRENCY",
    "GL journal entry lines.",
)
GLDETAIL = _object(
    "gl_details",
    "GLDETAIL",
    "BATCHNO:int BATCH_TITLE JOURNAL BATCH_DATE:date ENTRY_DATE:date ACCOUNTNO ACCOUNTTITLE TR_TYPE:int "
    f"AMOUNT:dec DEBITAMOUNT:dec CREDITAMOUNT:dec {_DIMENSIONS} VENDORID CUSTOMERID DESCRIPTION MODULEKEY "
    "STATE CURRENCY",
    "GL detail: posted lines with their dimensions (a view, slow in Intacct).",
)
DEPARTMENT = _object(
    "departments",
    "DEPARTMENT",
    "DEPARTMENTID TITLE PARENTID SUPERVISORID STATUS",
    "Departments (dimension; PARENTID gives the hierarchy).",
    entity=False,
)
LOCATION = _object(
    "locations",
    "LOCATION",
    "LOCATIONID NAME PARENTID STATUS",
    "Locations and entities (dimension; PARENTID gives the hierarchy).",
)
CLASS = _object(
    "classes",
    "CLASS",
    "CLASSID NAME PARENTID STATUS",
    "Classes (dimension; PARENTID gives the hierarchy).",
    entity=False,
)
PROJECT = _object(
    "projects",
    "PROJECT",
    "PROJECTID NAME CUSTOMERID PROJECTSTATUS BEGINDATE:date ENDDATE:date BUDGETAMOUNT:dec "
    "DEPARTMENTID LOCATIONID STATUS",
    "Projects (dimension).",
)

_DOC = "DOCNUMBER DESCRIPTION WHENPOSTED:date TOTALENTERED:dec TOTALDUE:dec CURRENCY BASECURR"
_LINE = (
    f"LINE_NO:int ACCOUNTNO ACCOUNTTITLE AMOUNT:dec TRX_AMOUNT:dec ENTRYDESCRIPTION {_DIMENSIONS} CURRENCY"
)
_BANK = (
    "BANKACCOUNTID BANKACCOUNTNO GLACCOUNTNO BANKNAME ROUTINGNO CURRENCY LASTRECONCILEDBALANCE:dec "
    "LASTRECONCILEDDATE:date STATUS"
)
_DOCUMENT = (
    "DOCID DOCNO DOCPARID CUSTVENDID CUSTVENDNAME STATE WHENDUE:date PONUMBER SUBTOTAL:dec TOTAL:dec CURRENCY"
)
_DOCENTRY = (
    "DOCHDRNO:int DOCHDRID LINE_NO:int ITEMID ITEMDESC QUANTITY:dec UNIT PRICE:dec TOTAL:dec DEPARTMENTID "
    "LOCATIONID WAREHOUSEID"
)

#: More objects, one row each: stream, object, the fields read when ``lookup`` is not asked
#: (``lookup_fields`` false), description, and whether records belong to an entity.
MORE: tuple[tuple[str, str, str, str, bool], ...] = (
    (
        "ar_invoices",
        "ARINVOICE",
        f"RECORDID CUSTOMERID CUSTOMERNAME TERMNAME WHENDUE:date WHENPAID:date STATE TOTALPAID:dec {_DOC}",
        "AR invoices.",
        True,
    ),
    (
        "ar_invoice_items",
        "ARINVOICEITEM",
        f"RECORDKEY:int CUSTOMERID {_LINE}",
        "AR invoice lines (RECORDKEY is the invoice).",
        True,
    ),
    (
        "ar_payments",
        "ARPYMT",
        "RECORDID FINANCIALENTITY PAYMENTMETHOD CUSTOMERID CUSTOMERNAME DESCRIPTION RECEIPTDATE:date "
        "WHENPAID:date "
        "STATE TOTALENTERED:dec TOTALPAID:dec CURRENCY",
        "AR payments (receipts).",
        True,
    ),
    (
        "ar_adjustments",
        "ARADJUSTMENT",
        f"RECORDID CUSTOMERID CUSTOMERNAME STATE {_DOC}",
        "AR adjustments.",
        True,
    ),
    (
        "ar_adjustment_items",
        "ARADJUSTMENTITEM",
        f"RECORDKEY:int CUSTOMERID {_LINE}",
        "AR adjustment lines.",
        True,
    ),
    ("ap_adjustments", "APADJUSTMENT", f"RECORDID VENDORID VENDORNAME STATE {_DOC}", "AP adjustments.", True),
    (
        "ap_adjustment_items",
        "APADJUSTMENTITEM",
        f"RECORDKEY:int VENDORID {_LINE}",
        "AP adjustment lines.",
        True,
    ),
    (
        "deposits",
        "DEPOSIT",
        "RECORDID FINANCIALENTITY DESCRIPTION WHENPAID:date STATE TOTALENTERED:dec CURRENCY",
        "Bank deposits.",
        True,
    ),
    (
        "items",
        "ITEM",
        "ITEMID NAME ITEMTYPE PRODUCTLINEID EXTENDED_DESCRIPTION STANDARD_COST:dec BASEPRICE:dec BASEUOM "
        "UOMGRP "
        "TAXABLE:bool GLGROUP STATUS",
        "Items (products and services).",
        False,
    ),
    ("checking_accounts", "CHECKINGACCOUNT", _BANK, "Checking (bank) accounts.", True),
    ("savings_accounts", "SAVINGSACCOUNT", _BANK, "Savings accounts.", True),
    (
        "credit_cards",
        "CREDITCARD",
        "CARDID CARDTYPE DESCRIPTION GLACCOUNTNO CURRENCY EXP_MONTH:int EXP_YEAR:int STATUS",
        "Credit card accounts.",
        True,
    ),
    (
        "gl_budgets",
        "GLBUDGETHEADER",
        "BUDGETID DESCRIPTION SYSTEMGENERATED:bool DEFAULT_BUDGET:bool ISCONSOLIDATED:bool CURRENCY STATUS",
        "GL budgets.",
        False,
    ),
    (
        "gl_budget_items",
        "GLBUDGETITEM",
        "BUDGETKEY:int BUDGETID PERIODKEY:int PERIODNAME ACCOUNTNO ACCOUNTTITLE DEPARTMENTID LOCATIONID "
        "AMOUNT:dec "
        "BASEDON GROWBY:dec PERPERIOD CURRENCY",
        "GL budget amounts per period and account (BUDGETKEY is the budget).",
        True,
    ),
    ("po_documents", "PODOCUMENT", _DOCUMENT, "Purchasing transactions (orders, receipts, invoices).", True),
    (
        "po_document_entries",
        "PODOCUMENTENTRY",
        _DOCENTRY,
        "Purchasing transaction lines (DOCHDRNO is the document).",
        True,
    ),
    ("so_documents", "SODOCUMENT", _DOCUMENT, "Order entry transactions (quotes, orders, invoices).", True),
    (
        "so_document_entries",
        "SODOCUMENTENTRY",
        _DOCENTRY,
        "Order entry transaction lines (DOCHDRNO is the document).",
        True,
    ),
    (
        "tasks",
        "TASK",
        "TASKID NAME PROJECTID DESCRIPTION PBEGINDATE:date PENDDATE:date BUDGETQTY:dec BILLABLE:bool",
        "Project tasks.",
        True,
    ),
    (
        "warehouses",
        "WAREHOUSE",
        "WAREHOUSEID NAME LOCATIONID MANAGERID STATUS",
        "Inventory warehouses.",
        True,
    ),
    (
        "location_entities",
        "LOCATIONENTITY",
        "LOCATIONID NAME PARENTID CURRENCY FEDERALID STATUS",
        "Entities.",
        False,
    ),
)

#: Every event in AUDITHISTORY (creations, changes, deletions, views of every object): read only
#: when selected, keyed by ID and read incrementally on ACCESSTIME.
AUDITHISTORY = ObjectStream(
    "audit_history",
    "AUDITHISTORY",
    fields(
        "ID:int OBJECTTYPE OBJECTKEY OBJECTDESC USERID ACCESSMODE ACCESSTIME:ts IPADDRESS SOURCE "
        "WORKFLOWACTION"
    ),
    key="ID",
    replication_key="ACCESSTIME",
    description=(
        "Every AUDITHISTORY event (selected only when asked for; needs the custom report View permission)."
    ),
    selected_by_default=False,
)

BUILTIN: tuple[ObjectStream, ...] = (
    VENDOR,
    APBILL,
    APBILLITEM,
    APPYMT,
    APPYMTDETAIL,
    GLACCOUNT,
    GLBATCH,
    GLENTRY,
    GLDETAIL,
    DEPARTMENT,
    LOCATION,
    CLASS,
    PROJECT,
    CUSTOMER,
    EMPLOYEE,
    *(_object(name, obj, spec, description, entity=entity) for name, obj, spec, description, entity in MORE),
    AUDITHISTORY,
)
BY_OBJECT = {s.object: s for s in BUILTIN}


@dataclass(frozen=True)
class Balances:
    """A stream of a legacy GL report function: one record per month, account and dimensions."""

    name: str
    #: get_trialbalance or get_accountbalances
    function: str
    #: The element each row comes in.
    row: str
    #: Dimension fields of each row (part of the key).
    dimensions: tuple[str, ...]
    description: str

    @property
    def key(self) -> list[str]:
        return ["startdate", "glaccountno", *self.dimensions, "reportingbook"]

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        amounts = "startbalance debits credits adjdebits adjcredits endbalance"
        return (
            ("startdate", "date"),
            ("enddate", "date"),
            ("glaccountno", "text"),
            *((d, "text") for d in self.dimensions),
            *((a, "decimal") for a in amounts.split()),
            ("reportingbook", "text"),
            ("currency", "text"),
        )


BALANCES: tuple[Balances, ...] = (
    Balances(
        "trial_balances",
        "get_trialbalance",
        "trialbalance",
        ("departmentid", "locationid"),
        "Trial balance per month, account, department and location (get_trialbalance).",
    ),
    Balances(
        "account_balances",
        "get_accountbalances",
        "accountbalance",
        ("departmentid", "locationid", "classid", "projectid"),
        "Account balances per month, account and dimension combination (get_accountbalances).",
    ),
)
