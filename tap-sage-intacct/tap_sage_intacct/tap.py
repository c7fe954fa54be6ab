"""tap-sage-intacct: finance records from the Sage Intacct XML gateway."""

from __future__ import annotations

import gc
from datetime import UTC
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlc_run_audit.checks import CheckedTap, SettingError, StreamHalted, check_name, parse_bookmark
from mlc_run_audit.settings import RETRIED, ConnectionSettings, RenamedSettings, connection_properties
from mlc_run_audit.tap import AUDIT_SETTING, AuditedTap, public_url
from mlc_run_audit.writer import BufferedRecordWriter
from singer_sdk import Stream, Tap
from singer_sdk import typing as th

from tap_sage_intacct import objects, xmlgw
from tap_sage_intacct.client import DEFAULT_ENDPOINT, Credentials, IntacctClient
from tap_sage_intacct.objects import BALANCES, BUILTIN, Balances, LineItems, ObjectStream, lookup_type
from tap_sage_intacct.schema import Clock, Shape, fields_of, fixed_offset
from tap_sage_intacct.streams import DELETES_BOOKMARK, BalanceStream, IntacctRunsStream, IntacctStream
from tap_sage_intacct.xmlgw import IntacctError

MAX_PAGE_SIZE = 2000


# run-audit's AuditedTap overrides load_streams, which the SDK marks final (to order _audit_runs last).
class TapSageIntacct(RenamedSettings, CheckedTap, AuditedTap, Tap):  # type: ignore[misc]
    """Singer tap for Sage Intacct: AP (vendors, bills, payments, adjustments), AR (customers,
    invoices, payments, adjustments), GL (accounts, journal entries, GL detail, budgets, trial and
    account balances), cash management, items, purchasing and order entry documents, dimensions and
    employees, every field lookup lists, read incrementally on WHENMODIFIED with keyset paging."""

    name = "tap-sage-intacct"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-tap-sage-intacct"
    message_writer_class = BufferedRecordWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "sender_id",
            th.StringType,
            required=True,
            title="Sender ID",
            description="Web Services sender ID (the Web Services developer license).",
        ),
        th.Property(
            "sender_password",
            th.StringType,
            required=True,
            secret=True,
            title="Sender password",
            description="Password of the Web Services sender ID.",
        ),
        th.Property(
            "company_id",
            th.StringType,
            required=True,
            title="Company ID",
            description="Intacct company ID to sign in to.",
        ),
        th.Property(
            "user_id",
            th.StringType,
            required=True,
            title="User ID",
            description="Web Services user to sign in as.",
        ),
        th.Property(
            "user_password",
            th.StringType,
            required=True,
            secret=True,
            title="User password",
            description="That user's password.",
        ),
        th.Property(
            "entity",
            th.StringType,
            title="Entity",
            description="Entity (location ID) of a multi-entity company to read; empty reads the top level.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Earliest WHENMODIFIED to read on the first run (ISO 8601).",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
            default=MAX_PAGE_SIZE,
            title="Page size",
            description=f"Records per query call, 1 to {MAX_PAGE_SIZE}. Intacct bills per call.",
        ),
        th.Property(
            "endpoint_url",
            th.StringType,
            default=DEFAULT_ENDPOINT,
            title="Endpoint URL",
            description="XML gateway URL to sign in at; later calls go to the endpoint the session names.",
        ),
        th.Property(
            "timezone",
            th.StringType,
            title="User time zone",
            description="IANA time zone of the Intacct user (e.g. America/Los_Angeles), in which Intacct "
            "writes and filters WHENMODIFIED. Empty: read with readUserFormatting (a fixed GMT offset, "
            "so daylight saving time is not known).",
        ),
        th.Property(
            "objects",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType, required=True),
                    th.Property("object", th.StringType, required=True),
                    th.Property("key", th.StringType),
                    th.Property("replication_key", th.StringType),
                    th.Property("fields", th.ObjectType(additional_properties=th.StringType)),
                    th.Property("description", th.StringType),
                )
            ),
            title="More objects",
            description="More Intacct objects to read: stream name (letters, digits and _, starting "
            "with a letter or _, at most 63 characters, unlike any other stream's ignoring case), object, "
            "optional key (default RECORDNO), replication key (default WHENMODIFIED, empty for full "
            "table) and fields as {FIELD: type} (text, integer, decimal, boolean, date, timestamp); "
            "without fields they come from lookup at discovery. Field names with other characters are "
            "emitted with each such character as _.",
        ),
        th.Property(
            "lookup_fields",
            th.BooleanType,
            default=True,
            title="Fields from lookup",
            description="At discovery, ask lookup for each object's fields (one call per object) and read "
            "every field it lists; false reads the tap's own field lists without signing in. A run with a "
            "catalog reads the fields the catalog holds and asks nothing.",
        ),
        th.Property(
            "fields",
            th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
            title="Fields per stream",
            description="Narrow streams to these Intacct fields, as {stream: [FIELD, ...]}; the key and "
            "replication key are always read. Streams not named read every field.",
        ),
        th.Property(
            "custom_fields",
            th.BooleanType,
            default=True,
            title="Custom fields",
            description="Read the custom fields lookup lists (ISCUSTOM) too; false leaves them out. "
            "Applies with lookup_fields.",
        ),
        th.Property(
            "balance_months",
            th.IntegerType(minimum=1, maximum=120),
            default=3,
            title="Balance months",
            description="Calendar months of trial_balances and account_balances read each run, ending with "
            "the gateway's current month (one get_trialbalance and one get_accountbalances per month).",
        ),
        th.Property(
            "balance_start_date",
            th.DateType,
            title="Balances from",
            description="Read trial_balances and account_balances for every month from this date's month to "
            "the current month instead (e.g. a first full load); balance_months applies when empty.",
        ),
        th.Property(
            "include_deleted",
            th.BooleanType,
            default=False,
            title="Include deletions",
            description="After each incremental stream, read its deletions from AUDITHISTORY (needs the "
            "custom report View permission) and emit the deleted key with _sdc_deleted_at.",
        ),
        *connection_properties(
            retried=f"{RETRIED}, GW-0010 rate limiting, 'try again later' errors and cut-off answers"
        ),
        AUDIT_SETTING,
    ).to_dict()

    # The run's single connection to the gateway --------------------------------------

    @cached_property
    def client(self) -> IntacctClient:
        # Built on first use: discovery (without custom fields) and --about never sign in.
        config = self.config
        return IntacctClient(
            Credentials(
                config["sender_id"],
                config["sender_password"],
                config["company_id"],
                config["user_id"],
                config["user_password"],
                config.get("entity") or None,
            ),
            config.get("endpoint_url") or DEFAULT_ENDPOINT,
            settings=ConnectionSettings.from_config(config),
            logger=self.logger,
        )

    def _configured_zone(self) -> ZoneInfo | None:
        name = self.config.get("timezone")
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"Setting timezone {name!r} is not an IANA time zone name (e.g. America/New_York)."
            raise SettingError(msg) from None

    @cached_property
    def clock(self) -> Clock:
        """The user's time zone: the ``timezone`` setting, else ``readUserFormatting``."""
        zone = self._configured_zone()
        if zone is not None:
            return Clock(zone)
        result = self.client.call(
            xmlgw.read_user_formatting(self.config["user_id"]), what="readUserFormatting"
        )
        formatting = result.data.find(".//userformatting") if result.data is not None else None
        if formatting is None:
            msg = "readUserFormatting answered without <userformatting>; set the timezone setting."
            raise IntacctError(msg, level="response")
        zone_name = (formatting.findtext("timezone") or "").strip()
        if zone_name:
            try:
                return Clock(ZoneInfo(zone_name))
            except (ZoneInfoNotFoundError, ValueError):
                pass
        offset = (formatting.findtext("gmtoffset") or "").strip()
        if not offset:
            self.logger.warning("readUserFormatting gave no time zone; reading timestamps as UTC.")
            return Clock(UTC)
        self.logger.warning(
            "The Intacct user's time zone is GMT%s by readUserFormatting, which does not say whether "
            "it observes daylight saving time; set timezone to its IANA name to convert exactly.",
            offset,
        )
        return Clock(fixed_offset(offset))

    @cached_property
    def _object_fields(self) -> dict[str, dict[str, tuple[str, bool]]]:
        return {}

    def object_fields(self, obj: str) -> dict[str, tuple[str, bool]]:
        """{FIELD: (type, is custom)} of an object from ``lookup``, once per run; empty if the
        gateway will not describe it."""
        cache = self._object_fields
        if obj not in cache:
            try:
                result = self.client.call(xmlgw.lookup(obj), what=f"lookup {obj}")
            except IntacctError as exc:
                if exc.level != "function":
                    raise
                self.logger.warning("lookup %s failed: %s", obj, exc)
                cache[obj] = {}
                return cache[obj]
            found: dict[str, tuple[str, bool]] = {}
            for node in result.data.iter("Field") if result.data is not None else ():
                name = (node.findtext("ID") or "").strip()
                if name:
                    custom = (node.findtext("ISCUSTOM") or "").strip().lower() == "true"
                    found[name] = (lookup_type(node.findtext("DATATYPE") or ""), custom)
            cache[obj] = found
        return cache[obj]

    def check_bookmarks(self) -> None:
        """The shared checks, and the deletions bookmark (``deleted_after``) must be a time too."""
        super().check_bookmarks()
        for name, entry in ((self.state or {}).get("bookmarks") or {}).items():
            value = entry.get(DELETES_BOOKMARK) if isinstance(entry, dict) else None
            if value is not None and parse_bookmark(value) is None:
                msg = (
                    f"State for stream {name}: {DELETES_BOOKMARK} {value!r} is not an ISO 8601 "
                    "timestamp. Fix it (meltano state set/edit) or clear it to read again from start_date."
                )
                raise SettingError(msg)

    def audit_source_description(self) -> str:
        endpoint = public_url(self.config.get("endpoint_url") or DEFAULT_ENDPOINT)
        where = f"{endpoint} company {self.config.get('company_id')}"
        entity = self.config.get("entity")
        return f"{where} entity {entity}" if entity else where

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK; the connection closes after it
        # Parsed pages hold no reference cycles: freezing the heap spares the collector
        # from re-scanning it on every page.
        gc.collect()
        gc.freeze()
        try:
            super().sync_all()
        except StreamHalted:
            if self.halted and all(name in self.skipped for name in self.halted):
                names = ", ".join(self.halted)
                msg = (
                    f"Stream(s) {names} were selected but could not be read: their object is not available "
                    "to this company or user (see the warnings above). Every other selected stream was "
                    "read. Deselect them in the catalog (in Meltano: meltano select tap-sage-intacct "
                    f"--exclude {self.halted and next(iter(self.halted))} '*') to run without them."
                )
                raise StreamHalted(msg) from None
            raise
        finally:
            if "client" in self.__dict__:
                self.client.close()
            gc.unfreeze()

    # Streams ---------------------------------------------------------------------------

    def discover_streams(self) -> list[Stream]:
        self._configured_zone()  # a wrong zone fails now, before any call
        specs = list(BUILTIN) + [self._configured(o) for o in self.config.get("objects") or []]
        seen: dict[str, str] = {}
        named: list[ObjectStream | Balances] = [*specs, *BALANCES]
        for spec in named:
            other = seen.get(spec.name.casefold())
            if other is not None:
                builtin = any(b.name == other for b in named[: len(BUILTIN)]) or any(
                    b.name == other for b in BALANCES
                )
                origin = "a built-in stream" if builtin else "another entry"
                msg = (
                    f"Setting objects: stream name {spec.name!r} is taken by {origin} ({other!r}; "
                    "loaders ignore case); choose another name."
                )
                raise SettingError(msg)
            seen[spec.name.casefold()] = spec.name
        unknown = sorted(set(self.config.get("fields") or {}) - set(seen.values()))
        if unknown:
            msg = f"Setting fields names streams the tap does not have: {', '.join(unknown)}."
            raise SettingError(msg)
        streams: list[Stream] = [IntacctStream(self, spec, self._shape(spec)) for spec in specs]
        streams += [BalanceStream(self, spec) for spec in BALANCES]
        return [*streams, IntacctRunsStream(self)]

    # Which fields each stream reads ------------------------------------------------------

    def _catalog_entry(self, name: str) -> dict[str, Any] | None:
        """The input catalog's schema of a stream: a run with a catalog reads what it holds."""
        catalog = self.input_catalog
        entry = catalog.get_stream(name) if catalog is not None else None
        return entry.schema.to_dict() if entry is not None else None

    def _object_field_types(self, spec: ObjectStream) -> list[tuple[str, str]]:
        """Every field ``lookup`` lists (custom ones unless ``custom_fields`` is false), else the
        stream's own list (``lookup_fields`` false, or an object the company does not have)."""
        custom = self.config.get("custom_fields", True) is not False
        ask = spec.lookup and self.config.get("lookup_fields", True) is not False
        described = self.object_fields(spec.object) if ask else {}
        if not described:
            return list(spec.fields)
        field_types = [(f, t) for f, (t, is_custom) in described.items() if custom or not is_custom]
        listed = {f for f, _ in field_types}
        # Key and replication key are read even if lookup leaves them out.
        required = [
            (f, t) for f, t in spec.fields if f in (spec.key, spec.replication_key) and f not in listed
        ]
        return required + field_types

    def _narrowed(self, spec: ObjectStream, field_types: list[tuple[str, str]]) -> list[tuple[str, str]]:
        wanted = (self.config.get("fields") or {}).get(spec.name)
        if not wanted:
            return field_types
        names = {f for f, _ in field_types}
        missing = [f for f in wanted if f not in names]
        if missing:
            msg = (
                f"Setting fields, stream {spec.name}: {spec.object} has no field(s) {', '.join(missing)} "
                f"(lookup lists {len(names)}); check the names."
            )
            raise SettingError(msg)
        keep = {*wanted, spec.key, spec.replication_key}
        return [(f, t) for f, t in field_types if f in keep]

    def _shape(self, spec: ObjectStream) -> Shape:
        schema = self._catalog_entry(spec.name)
        arrays = {}
        if schema is not None:
            field_types = fields_of(schema)
            if spec.line_items is not None:
                lines = (schema.get("properties") or {}).get(spec.line_items.array) or {}
                arrays[spec.line_items.array] = Shape(
                    fields_of(lines.get("items") or {}), what=spec.line_items.object
                )
        else:
            field_types = self._narrowed(spec, self._object_field_types(spec))
            if spec.line_items is not None:
                arrays[spec.line_items.array] = self._lines_shape(spec.line_items)
        return Shape(
            field_types,
            arrays=arrays,
            deletes=bool(self.config.get("include_deleted")) and spec.object != "AUDITHISTORY",
            what=f"Stream {spec.name}: {spec.object}",
        )

    def _lines_shape(self, lines: LineItems) -> Shape:
        return Shape(self._object_field_types(objects.BY_OBJECT[lines.object]), what=lines.object)

    # Streams that cannot be read -----------------------------------------------------------

    @cached_property
    def dropped_fields(self) -> dict[str, list[str]]:
        """Per stream, the OBJECT.FIELDs lookup lists but query would not read."""
        return {}

    @cached_property
    def skipped(self) -> dict[str, str]:
        """Streams skipped because the company lacks their object (or module, or permission)."""
        return {}

    def skip_stream(self, stream: Stream, error: Exception) -> None:
        """A stream whose object the company does not have: the other streams go on. When the
        catalog selected it by name the run fails at its end; selected by default it is a warning."""
        explicit = self.input_catalog is not None and stream.metadata.root.selected is True
        self.skipped[stream.name] = f"{error}"
        self.logger.warning(
            "Stream %s skipped: %s. %s",
            stream.name,
            error,
            "The catalog selects it, so the run fails after the other streams; deselect it if the company "
            "does not use it."
            if explicit
            else "It was selected by default only, so the run goes on.",
        )
        if explicit:
            self.halted[stream.name] = f"skipped: {error}"
            self.run_audit.error = "; ".join(f"{s}: {e}" for s, e in self.halted.items())[:2000]

    def _configured(self, entry: dict[str, Any]) -> ObjectStream:
        check_name(entry["name"], "Setting objects: stream name")
        obj = entry["object"].strip().upper()
        given = entry.get("fields") or {}
        bad = {f: t for f, t in given.items() if t not in objects.TYPES}
        if bad:
            msg = (
                f"Setting objects, stream {entry['name']}: field types {bad} are not among "
                f"{', '.join(objects.TYPES)}."
            )
            raise SettingError(msg)
        if given:
            field_types = tuple(given.items())
            asked = False
        else:
            described = self.object_fields(obj)
            if not described:
                msg = (
                    f"Setting objects, stream {entry['name']}: lookup {obj} gave no fields; "
                    "give them as 'fields' or check the object name."
                )
                raise SettingError(msg)
            field_types = tuple((f, t) for f, (t, _custom) in described.items())
            asked = True
        key = entry.get("key") or "RECORDNO"
        rk = entry.get("replication_key", "WHENMODIFIED") or None
        names = {f for f, _ in field_types}
        for setting, name in (("key", key), ("replication_key", rk)):
            if name and name not in names:
                msg = f"Setting objects, stream {entry['name']}: {setting} {name} is not among its fields."
                raise SettingError(msg)
        return ObjectStream(
            entry["name"],
            obj,
            field_types,
            key=key,
            replication_key=rk,
            description=entry.get("description", ""),
            lookup=asked,
        )


if __name__ == "__main__":
    TapSageIntacct.cli()
