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
    #: The line's field holding its header's RECORDNO (with ``parent``).
    parent_field: str = "RECORDKEY"
    #: Fields the generator fills from their type and name (those without a rule of their own).
    generic: frozenset[str] = frozenset()
    by_name: dict[str, Field] = field(init=False)
    field_names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}
        self.field_names = [f.name for f in self.fields]


def _f(spec: str) -> list[Field]:
    """'NAME:TYPE NAME2 STATE:ENUM=Draft|Posted ...' -> fields (TYPE defaults to TEXT)."""
    out = []
    for item in spec.split():
        name, _, dtype = item.partition(":")
        dtype, _, values = dtype.partition("=")
        label = name.replace("_", " ").title()
        out.append(
            Field(name, dtype or TEXT, label=label, validvalues=tuple(values.split("|")) if values else ())
        )
    return out


def _status(values=("active", "inactive")) -> Field:
    return Field("STATUS", ENUM, "Status", validvalues=tuple(values))


_AUDIT = _f("WHENCREATED:TIMESTAMP WHENMODIFIED:TIMESTAMP CREATEDBY:INTEGER MODIFIEDBY:INTEGER")
_ENTITY = _f("MEGAENTITYKEY:INTEGER MEGAENTITYID MEGAENTITYNAME")
_DIMENSIONS = _f("DEPARTMENTID LOCATIONID CLASSID PROJECTID")
_RECORDNO = [Field("RECORDNO", INTEGER, "Record number", readonly=True)]


def _obj(
    name: str,
    body: list[Field],
    entity_owned: bool = True,
    custom: list[Field] = (),
    wide: str = "",
    **kw,
) -> ObjectDef:
    """An object: RECORDNO, its fields, the audit fields, the entity fields, custom fields; ``wide``
    ('NAME:TYPE ...') adds documented fields the generator fills from their type and name."""
    extra = _f(wide)
    fields = _RECORDNO + body + extra + _AUDIT + (_ENTITY if entity_owned else []) + list(custom)
    return ObjectDef(name, fields, entity_owned=entity_owned, generic=frozenset(f.name for f in extra), **kw)


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
            wide=(
                "NAME1099 FORM1099TYPE FORM1099BOX CREDITLIMIT:CURRENCY "
                "PAYMENTPRIORITY:ENUM=Normal|Low|High|Urgent BILLINGTYPE:ENUM=openitem|balanceforward "
                "DISPLAYCONTACT.COMPANYNAME DISPLAYCONTACT.MAILADDRESS.ADDRESS1 "
                "DISPLAYCONTACT.MAILADDRESS.COUNTRY DONOTCUTCHECK:BOOLEAN LASTBILLCREATED:DATE APACCOUNT "
                "OBJECTRESTRICTION:ENUM=Unrestricted|Restricted"
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
            wide=(
                "CUSTREPID TERRITORYID PRICESCHEDULE DELIVERY_OPTIONS:ENUM=Print|E-Mail|Both "
                "DISPLAYCONTACT.PHONE1 DISPLAYCONTACT.MAILADDRESS.STATE DISPLAYCONTACT.MAILADDRESS.ZIP "
                "ONHOLD:BOOLEAN LAST_INVOICEDATE:DATE ARACCOUNT"
            ),
        ),
        _obj(
            "EMPLOYEE",
            [
                *_f("EMPLOYEEID PERSONALINFO.CONTACTNAME TITLE DEPARTMENTID LOCATIONID SUPERVISORID"),
                Field("STARTDATE", DATE),
                _status(),
            ],
            wide="PERSONALINFO.EMAIL1 EMPLOYEETYPE CLASSID ENDDATE:DATE CURRENCY",
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
            wide=(
                "PAYTOCONTACTNAME RETURNTOCONTACTNAME PRBATCH RECPAYMENTDATE:DATE SUPDOCID "
                "TRX_TOTALENTERED:CURRENCY TRX_TOTALPAID:CURRENCY TRX_TOTALDUE:CURRENCY "
                "EXCH_RATE_DATE:DATE EXCH_RATE_TYPE_ID EXCHANGE_RATE:DECIMAL DUE_IN_DAYS:INTEGER"
            ),
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
            wide=(
                "GLACCOUNTNO OFFSETGLACCOUNTNO ITEMID ITEMNAME CUSTOMERID EMPLOYEEID BILLABLE:BOOLEAN "
                "BILLED:BOOLEAN EXCHANGE_RATE:DECIMAL"
            ),
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
            wide=(
                "RECORDID WHENPAID:DATE TRX_TOTALPAID:CURRENCY CLEARED:ENUM=true|false|matched "
                "EXCH_RATE_TYPE_ID BASECURR"
            ),
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
            wide="DISCOUNTAMOUNT:CURRENCY INLINEKEY:INTEGER ADJUSTMENTKEY:INTEGER POSADJKEY:INTEGER",
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
            wide=(
                "REQUIREDEPT:BOOLEAN REQUIRELOC:BOOLEAN REQUIRECLASS:BOOLEAN REQUIREPROJECT:BOOLEAN "
                "CATEGORY TAXABLE:BOOLEAN ALTERNATIVEACCOUNT SUBLEDGERCONTROLON:BOOLEAN"
            ),
        ),
        _obj(
            "GLBATCH",
            [
                Field("BATCHNO", INTEGER),
                *_f("BATCH_TITLE JOURNAL REFERENCENO MODULE"),
                Field("BATCH_DATE", DATE),
                Field("STATE", ENUM, validvalues=("Draft", "Submitted", "Posted")),
            ],
            wide="REVERSEDATE:DATE USERKEY:INTEGER SUPDOCID JOURNALSEQNO PRBATCHKEY:INTEGER",
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
            wide=(
                "DOCUMENT EXCH_RATE_DATE:DATE EXCHANGE_RATE:DECIMAL STATISTICAL:BOOLEAN EMPLOYEEID "
                "ITEMID VENDORID CUSTOMERID BILLABLE:BOOLEAN"
            ),
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
            wide="RECORDID DOCNUMBER BOOKID EXCHANGE_RATE:DECIMAL TRX_AMOUNT:CURRENCY ITEMID EMPLOYEEID",
        ),
        _obj(
            "DEPARTMENT",
            [*_f("DEPARTMENTID TITLE PARENTID SUPERVISORID"), _status()],
            entity_owned=False,
            wide="SUPERVISORNAME CURRENCY",
        ),
        _obj(
            "LOCATION",
            [*_f("LOCATIONID NAME PARENTID"), _status()],
            wide="DESCRIPTION SUPERVISORID CURRENCY STARTDATE:DATE FEDERALID",
        ),
        _obj("CLASS", [*_f("CLASSID NAME PARENTID"), _status()], entity_owned=False, wide="DESCRIPTION"),
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
            wide=(
                "PROJECTCATEGORY PROJECTTYPE MANAGERID DESCRIPTION CONTRACTAMOUNT:CURRENCY "
                "PERCENTCOMPLETE:DECIMAL"
            ),
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

#: More objects, as the Intacct object reference names them: (object, fields, entity-owned, header
#: object of a line object, the line's field naming its header). Every field is filled by the generator
#: from its type and name; a line's header field holds a header's RECORDNO.
_DOC = "DOCNUMBER DESCRIPTION WHENPOSTED:DATE TOTALENTERED:CURRENCY TOTALDUE:CURRENCY CURRENCY BASECURR"
_LINE = (
    "LINE_NO:INTEGER ACCOUNTNO ACCOUNTTITLE AMOUNT:CURRENCY TRX_AMOUNT:CURRENCY ENTRYDESCRIPTION "
    "DEPARTMENTID LOCATIONID CLASSID PROJECTID CURRENCY"
)
_BANK = (
    "BANKACCOUNTID BANKACCOUNTNO GLACCOUNTNO BANKNAME ROUTINGNO CURRENCY "
    "LASTRECONCILEDBALANCE:CURRENCY LASTRECONCILEDDATE:DATE STATUS:ENUM=active|inactive"
)
_DOCUMENT = (
    "DOCID DOCNO DOCPARID CUSTVENDID CUSTVENDNAME STATE:ENUM=Draft|Pending|Closed|Converted WHENDUE:DATE "
    "PONUMBER SUBTOTAL:CURRENCY TOTAL:CURRENCY CURRENCY MESSAGE"
)
_DOCENTRY = (
    "DOCHDRNO:INTEGER DOCHDRID LINE_NO:INTEGER ITEMID ITEMDESC QUANTITY:DECIMAL UNIT PRICE:CURRENCY "
    "TOTAL:CURRENCY DEPARTMENTID LOCATIONID WAREHOUSEID"
)
MORE: tuple[tuple[str, str, bool, str | None, str], ...] = (
    (
        "ARINVOICE",
        f"RECORDID CUSTOMERID CUSTOMERNAME TERMNAME WHENDUE:DATE WHENPAID:DATE "
        f"STATE:ENUM=Draft|Posted|Paid TOTALPAID:CURRENCY PRBATCH {_DOC}",
        True,
        None,
        "",
    ),
    ("ARINVOICEITEM", f"RECORDKEY:INTEGER CUSTOMERID {_LINE}", True, "ARINVOICE", "RECORDKEY"),
    (
        "ARPYMT",
        "RECORDID FINANCIALENTITY PAYMENTMETHOD CUSTOMERID CUSTOMERNAME DESCRIPTION RECEIPTDATE:DATE "
        "WHENPAID:DATE STATE:ENUM=Draft|Submitted|Complete|Voided TOTALENTERED:CURRENCY "
        "TOTALPAID:CURRENCY CURRENCY",
        True,
        None,
        "",
    ),
    ("ARADJUSTMENT", f"RECORDID CUSTOMERID CUSTOMERNAME STATE:ENUM=Draft|Posted {_DOC}", True, None, ""),
    ("ARADJUSTMENTITEM", f"RECORDKEY:INTEGER CUSTOMERID {_LINE}", True, "ARADJUSTMENT", "RECORDKEY"),
    ("APADJUSTMENT", f"RECORDID VENDORID VENDORNAME STATE:ENUM=Draft|Posted {_DOC}", True, None, ""),
    ("APADJUSTMENTITEM", f"RECORDKEY:INTEGER VENDORID {_LINE}", True, "APADJUSTMENT", "RECORDKEY"),
    (
        "DEPOSIT",
        "RECORDID FINANCIALENTITY DESCRIPTION WHENPAID:DATE STATE:ENUM=Draft|Complete|Voided "
        "TOTALENTERED:CURRENCY CURRENCY",
        True,
        None,
        "",
    ),
    (
        "ITEM",
        "ITEMID NAME ITEMTYPE:ENUM=Inventory|Non-Inventory|Kit PRODUCTLINEID EXTENDED_DESCRIPTION "
        "STANDARD_COST:CURRENCY BASEPRICE:CURRENCY BASEUOM UOMGRP TAXABLE:BOOLEAN GLGROUP "
        "STATUS:ENUM=active|inactive",
        False,
        None,
        "",
    ),
    ("CHECKINGACCOUNT", _BANK, True, None, ""),
    ("SAVINGSACCOUNT", _BANK, True, None, ""),
    (
        "CREDITCARD",
        "CARDID CARDTYPE DESCRIPTION GLACCOUNTNO CURRENCY EXP_MONTH:INTEGER EXP_YEAR:INTEGER "
        "STATUS:ENUM=active|inactive",
        True,
        None,
        "",
    ),
    (
        "GLBUDGETHEADER",
        "BUDGETID DESCRIPTION SYSTEMGENERATED:BOOLEAN DEFAULT_BUDGET:BOOLEAN ISCONSOLIDATED:BOOLEAN CURRENCY "
        "STATUS:ENUM=active|inactive",
        False,
        None,
        "",
    ),
    (
        "GLBUDGETITEM",
        "BUDGETKEY:INTEGER BUDGETID PERIODKEY:INTEGER PERIODNAME ACCOUNTNO ACCOUNTTITLE DEPARTMENTID "
        "LOCATIONID "
        "AMOUNT:CURRENCY BASEDON:ENUM=Actual|Budget GROWBY:DECIMAL PERPERIOD:ENUM=Percent|Amount CURRENCY",
        True,
        "GLBUDGETHEADER",
        "BUDGETKEY",
    ),
    ("PODOCUMENT", _DOCUMENT, True, None, ""),
    ("PODOCUMENTENTRY", _DOCENTRY, True, "PODOCUMENT", "DOCHDRNO"),
    ("SODOCUMENT", _DOCUMENT, True, None, ""),
    ("SODOCUMENTENTRY", _DOCENTRY, True, "SODOCUMENT", "DOCHDRNO"),
    (
        "TASK",
        "TASKID NAME PROJECTID DESCRIPTION PBEGINDATE:DATE PENDDATE:DATE BUDGETQTY:DECIMAL BILLABLE:BOOLEAN",
        True,
        None,
        "",
    ),
    ("WAREHOUSE", "WAREHOUSEID NAME LOCATIONID MANAGERID STATUS:ENUM=active|inactive", True, None, ""),
    (
        "LOCATIONENTITY",
        "LOCATIONID NAME PARENTID CURRENCY FEDERALID STATUS:ENUM=active|inactive",
        False,
        None,
        "",
    ),
)


def _more(name: str, spec: str, entity_owned: bool, parent: str | None, parent_field: str) -> ObjectDef:
    rels = [Relationship(parent, parent, parent_field)] if parent else []
    keep = {parent_field} if parent else set()
    fields = _f(spec)
    body = [f for f in fields if f.name in keep]
    wide = " ".join(
        f"{f.name}:{f.datatype}" + ("=" + "|".join(f.validvalues) if f.validvalues else "")
        for f in fields
        if f.name not in keep
    )
    obj = _obj(name, body, entity_owned=entity_owned, wide=wide, parent=parent, relationships=rels)
    if parent:
        obj.parent_field = parent_field
    return obj


OBJECTS.update((row[0], _more(*row)) for row in MORE)

#: AUDITHISTORY ACCESSMODE letters (``query``) and the words readByQuery uses.
ACCESSMODE_WORDS = {"C": "Create", "M": "Modify", "D": "Delete"}

#: Fields every base record carries before the full record is built (filters that read only these
#: scan without generating records).
LIGHT_FIELDS = frozenset({"RECORDNO", "WHENMODIFIED", "MEGAENTITYID"})
