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
)
BY_OBJECT = {s.object: s for s in BUILTIN}
