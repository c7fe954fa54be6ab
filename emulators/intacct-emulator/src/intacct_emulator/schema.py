"""Object definitions the gateway serves: fields in Intacct's names and data types, what ``lookup``
answers, and which objects belong to entities.

Field names follow the Intacct object reference (VENDOR, APBILL, GLDETAIL ...); values are served as
strings, amounts as decimal strings, dates as ``MM/DD/YYYY`` and timestamps as ``MM/DD/YYYY HH:MM:SS``
in the user's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: lookup DATATYPE values used here.
TEXT, INTEGER, DECIMAL, CURRENCY, DATE, TIMESTAMP, BOOLEAN, ENUM = (
    "TEXT",
    "INTEGER",
    "DECIMAL",
    "CURRENCY",
    "DATE",
    "TIMESTAMP",
    "BOOLEAN",
    "ENUM",
)
NUMERIC = (DECIMAL, CURRENCY)


@dataclass(frozen=True)
class Field:
    name: str
    datatype: str = TEXT
    label: str = ""
    custom: bool = False
    required: bool = False
    readonly: bool = False
    validvalues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Relationship:
    objectpath: str
    objectname: str
    relatedby: str
    relationshiptype: str = "MANY2ONE"


@dataclass
class ObjectDef:
    """One queryable object."""

    name: str
    fields: list[Field]
    #: Records belong to an entity (MEGAENTITYID); entity-level sessions see only their entity's.
    entity_owned: bool = True
    #: Header object of a line object, and lines per header (APBILLITEM -> APBILL).
    parent: str | None = None
    relationships: list[Relationship] = field(default_factory=list)
    #: False for objects that only hold what changes add (AUDITHISTORY).
    generated: bool = True
    #: Integer key (record order) and last-change timestamp of the object's records.
    key: str = "RECORDNO"
    timestamp: str = "WHENMODIFIED"
    by_name: dict[str, Field] = field(init=False)
    field_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}
        self.field_names = [f.name for f in self.fields]


def _f(spec: str) -> list[Field]:
    """'NAME:TYPE NAME2 ...' -> fields (TYPE defaults to TEXT)."""
    out = []
    for item in spec.split():
        name, _, dtype = item.partition(":")
        out.append(Field(name, dtype or TEXT, label=name.replace("_", " ").title()))
    return out


def _status(values=("active", "inactive")) -> Field:
    return Field("STATUS", ENUM, "Status", validvalues=tuple(values))


_AUDIT = _f("WHENCREATED:TIMESTAMP WHENMODIFIED:TIMESTAMP CREATEDBY:INTEGER MODIFIEDBY:INTEGER")
_ENTITY = _f("MEGAENTITYKEY:INTEGER MEGAENTITYID MEGAENTITYNAME")
_DIMENSIONS = _f("DEPARTMENTID LOCATIONID CLASSID PROJECTID")
_RECORDNO = [Field("RECORDNO", INTEGER, "Record number", readonly=True)]


def _obj(
    name: str, body: list[Field], entity_owned: bool = True, custom: list[Field] = (), **kw
) -> ObjectDef:
    fields = _RECORDNO + body + _AUDIT + (_ENTITY if entity_owned else []) + list(custom)
    return ObjectDef(name, fields, entity_owned=entity_owned, **kw)


def _custom(*specs: tuple[str, str, str]) -> list[Field]:
    return [Field(n, t, label, custom=True) for n, t, label in specs]


OBJECTS: dict[str, ObjectDef] = {
    o.name: o
    for o in [
        _obj(
            "VENDOR",
            [
                *_f("VENDORID NAME VENDTYPE PARENTID TERMNAME TAXID CURRENCY"),
                _status(),
                Field("ONHOLD", BOOLEAN),
                Field("TOTALDUE", CURRENCY),
                *_f(
                    "DISPLAYCONTACT.EMAIL1 DISPLAYCONTACT.PHONE1 DISPLAYCONTACT.MAILADDRESS.CITY "
                    "DISPLAYCONTACT.MAILADDRESS.STATE DISPLAYCONTACT.MAILADDRESS.ZIP"
                ),
            ],
            custom=_custom(
                ("RISK_RATING", INTEGER, "Risk rating"), ("PORTAL_VENDOR_CODE", TEXT, "Portal vendor code")
            ),
        ),
        _obj(
            "CUSTOMER",
            [
                *_f("CUSTOMERID NAME CUSTTYPE TERMNAME CURRENCY"),
                _status(),
                Field("CREDITLIMIT", CURRENCY),
                Field("TOTALDUE", CURRENCY),
                *_f("DISPLAYCONTACT.EMAIL1 DISPLAYCONTACT.MAILADDRESS.CITY"),
            ],
        ),
        _obj(
            "EMPLOYEE",
            [
                *_f("EMPLOYEEID PERSONALINFO.CONTACTNAME TITLE DEPARTMENTID LOCATIONID SUPERVISORID"),
                Field("STARTDATE", DATE),
                _status(),
            ],
        ),
        _obj(
            "APBILL",
            [
                *_f("RECORDID DOCNUMBER VENDORID VENDORNAME DESCRIPTION TERMNAME"),
                Field("WHENPOSTED", DATE),
                Field("WHENDUE", DATE),
                Field("WHENPAID", DATE),
                Field("STATE", ENUM, "State", validvalues=("Draft", "Posted", "Partially Paid", "Paid")),
                Field("TOTALENTERED", CURRENCY),
                Field("TOTALPAID", CURRENCY),
                Field("TOTALDUE", CURRENCY),
                *_f("CURRENCY BASECURR MODULEKEY"),
            ],
            custom=_custom(("APPROVAL_CODE", TEXT, "Approval code"), ("COST_CENTER", TEXT, "Cost center")),
            relationships=[Relationship("VENDOR", "VENDOR", "VENDORID")],
        ),
        _obj(
            "APBILLITEM",
            [
                Field("RECORDKEY", INTEGER, "Bill record number"),
                Field("LINE_NO", INTEGER),
                *_f("ACCOUNTNO ACCOUNTTITLE"),
                Field("AMOUNT", CURRENCY),
                Field("TRX_AMOUNT", CURRENCY),
                *_f("ENTRYDESCRIPTION VENDORID"),
                *_DIMENSIONS,
                *_f("CURRENCY"),
            ],
            parent="APBILL",
            relationships=[Relationship("APBILL", "APBILL", "RECORDKEY")],
        ),
        _obj(
            "APPYMT",
            [
                *_f("FINANCIALENTITY PAYMENTMETHOD DOCNUMBER VENDORID VENDORNAME DESCRIPTION"),
                Field("PAYMENTDATE", DATE),
                Field("STATE", ENUM, "State", validvalues=("Draft", "Submitted", "Complete", "Voided")),
                Field("AMOUNTTOPAY", CURRENCY),
                Field("TOTALPAID", CURRENCY),
                *_f("CURRENCY"),
            ],
            relationships=[Relationship("VENDOR", "VENDOR", "VENDORID")],
        ),
        _obj(
            "APPYMTDETAIL",
            [
                Field("PAYMENTKEY", INTEGER),
                Field("RECORDKEY", INTEGER),
                Field("ENTRYKEY", INTEGER),
                Field("PAYMENTAMOUNT", CURRENCY),
                Field("TRX_PAYMENTAMOUNT", CURRENCY),
                *_f("CURRENCY"),
            ],
            parent="APPYMT",
            relationships=[Relationship("APPYMT", "APPYMT", "PAYMENTKEY")],
        ),
        _obj(
            "GLACCOUNT",
            [
                *_f("ACCOUNTNO TITLE"),
                Field("ACCOUNTTYPE", ENUM, validvalues=("balancesheet", "incomestatement")),
                Field("NORMALBALANCE", ENUM, validvalues=("debit", "credit")),
                Field("CLOSINGTYPE", ENUM, validvalues=("non-closing account", "closing account")),
                _status(),
            ],
            entity_owned=False,
        ),
        _obj(
            "GLBATCH",
            [
                Field("BATCHNO", INTEGER),
                *_f("BATCH_TITLE JOURNAL REFERENCENO MODULE"),
                Field("BATCH_DATE", DATE),
                Field("STATE", ENUM, validvalues=("Draft", "Submitted", "Posted")),
            ],
        ),
        _obj(
            "GLENTRY",
            [
                Field("BATCHNO", INTEGER),
                Field("LINE_NO", INTEGER),
                Field("TR_TYPE", INTEGER),
                Field("ENTRY_DATE", DATE),
                *_f("ACCOUNTNO DESCRIPTION"),
                Field("AMOUNT", CURRENCY),
                Field("TRX_AMOUNT", CURRENCY),
                *_DIMENSIONS,
                *_f("CURRENCY"),
            ],
            parent="GLBATCH",
            relationships=[Relationship("GLBATCH", "GLBATCH", "BATCHNO")],
        ),
        _obj(
            "GLDETAIL",
            [
                Field("BATCHNO", INTEGER),
                *_f("BATCH_TITLE JOURNAL"),
                Field("BATCH_DATE", DATE),
                Field("ENTRY_DATE", DATE),
                *_f("ACCOUNTNO ACCOUNTTITLE"),
                Field("TR_TYPE", INTEGER),
                Field("AMOUNT", CURRENCY),
                Field("DEBITAMOUNT", CURRENCY),
                Field("CREDITAMOUNT", CURRENCY),
                *_DIMENSIONS,
                *_f("VENDORID CUSTOMERID DESCRIPTION MODULEKEY STATE CURRENCY"),
            ],
        ),
        _obj("DEPARTMENT", [*_f("DEPARTMENTID TITLE PARENTID SUPERVISORID"), _status()], entity_owned=False),
        _obj("LOCATION", [*_f("LOCATIONID NAME PARENTID"), _status()]),
        _obj("CLASS", [*_f("CLASSID NAME PARENTID"), _status()], entity_owned=False),
        _obj(
            "PROJECT",
            [
                *_f("PROJECTID NAME CUSTOMERID PROJECTSTATUS"),
                Field("BEGINDATE", DATE),
                Field("ENDDATE", DATE),
                Field("BUDGETAMOUNT", CURRENCY),
                *_f("DEPARTMENTID LOCATIONID"),
                _status(),
            ],
        ),
        _obj(
            "USERINFO",
            [
                *_f("LOGINID DESCRIPTION USERTYPE"),
                _status(),
            ],
            entity_owned=False,
        ),
        ObjectDef(
            "AUDITHISTORY",
            [
                Field("ID", INTEGER),
                *_f("OBJECTTYPE OBJECTKEY OBJECTDESC USERID"),
                Field("ACCESSMODE", ENUM, validvalues=("C", "M", "D", "A", "W", "T", "U")),
                Field("ACCESSTIME", TIMESTAMP),
                *_f("IPADDRESS SOURCE WORKFLOWACTION"),
            ],
            entity_owned=False,
            generated=False,
            key="ID",
            timestamp="ACCESSTIME",
        ),
    ]
}

#: AUDITHISTORY ACCESSMODE letters (``query``) and the words readByQuery uses.
ACCESSMODE_WORDS = {"C": "Create", "M": "Modify", "D": "Delete"}

#: Fields every base record carries before the full record is built (filters that read only these
#: scan without generating records).
LIGHT_FIELDS = frozenset({"RECORDNO", "WHENMODIFIED", "MEGAENTITYID"})
