"""tap-acumatica: finance records from Acumatica's contract-based REST API."""

from __future__ import annotations

import gc
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import requests
from acumatica_client import AcumaticaError, Instance, catalog, describe_error, make_auth
from acumatica_client.errors import raise_if_retriable
from acumatica_client.settings import CONNECTION_PROPERTIES, DEFAULT_VERSION
from mlc_run_audit.checks import CheckedTap, SettingError
from mlc_run_audit.retry import RetriesExhausted, RetryPolicy
from mlc_run_audit.settings import ConnectionSettings, RenamedSettings
from mlc_run_audit.tap import AUDIT_SETTING, AuditedTap, RunsStream, public_url
from mlc_run_audit.writer import BufferedRecordWriter
from singer_sdk import Tap
from singer_sdk import typing as th

from tap_acumatica.deletes import DEFAULT_DIR as DEFAULT_DELETES_DIR
from tap_acumatica.deletes import DEFAULT_KEY_PAGE_SIZE, streams_with_deletes
from tap_acumatica.entities import (
    BUILTIN_STREAMS,
    REPLICATION_KEY_CANDIDATES,
    EntityStream,
    extra_stream,
)
from tap_acumatica.inquiries import INQUIRY_PROPERTIES, InquiryStream, inquiry_streams
from tap_acumatica.parallel import DEFAULT_MAX_CONCURRENT_REQUESTS, GatedAdapter, LicenseGate, gate_settings
from tap_acumatica.schema import CustomField, GenericShape, RecordShape, Shape
from tap_acumatica.streams import KEY_ORDER, TIMESTAMP_ORDER, AcumaticaStream

if TYPE_CHECKING:
    from acumatica_client import AcumaticaAuth


# AuditedTap overrides the SDK's final load_streams, to read the run's own stream last.
class TapAcumatica(RenamedSettings, CheckedTap, AuditedTap, Tap):  # type: ignore[misc]
    """Singer tap for Acumatica ERP: vendors, AP bills, purchase orders, AP payments, GL
    accounts and subaccounts, journal transactions, sales and AR invoices, customers and
    stock items, read incrementally with keyset paging."""

    name = "tap-acumatica"
    #: The distribution that carries this plugin (for --version and --about).
    package_name = "ml-connector-tap-acumatica"
    message_writer_class = BufferedRecordWriter
    # StockItem's timestamp is LastModified before endpoint 24.200.001, LastModifiedDateTime from it:
    # the same time, so a bookmark carries over when endpoint_version is raised.
    compatible_replication_keys = (frozenset({"LastModified", "LastModifiedDateTime"}),)

    # Connection settings (URL, endpoint, sign-in, timeouts and retries) are the ones every Acumatica
    # plugin takes, from acumatica_client; what follows is the tap's own.
    _own_settings: ClassVar[dict[str, Any]] = th.PropertiesList(
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="Earliest modification time to read on the first run (ISO 8601).",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1),
            default=1000,
            title="Page size",
            description="Records per request ($top), at least 1.",
        ),
        th.Property(
            "paging_order",
            th.StringType,
            default="auto",
            allowed_values=["auto", "timestamp", "key"],
            title="Paging order",
            description="'timestamp' pages with $orderby on the replication key and keys and "
            "bookmarks as it goes; 'key' relies on the server's key order and bookmarks at the "
            "end of each stream; 'auto' probes once per stream whether the instance honours $orderby.",
        ),
        th.Property(
            "expand",
            th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
            title="Expansions",
            description="Per stream, the detail or linked entities to $expand, replacing the "
            'default (e.g. {"vendors": ["MainContact"], "bills": ["Details", "Applications"]}).',
        ),
        th.Property(
            "custom_fields",
            th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
            title="Custom fields",
            description="Per stream, custom fields to read with $custom, as View.Field[:type] "
            "(type string, integer, number, boolean or date-time; default string) or "
            "Details/View.Field for detail lines. Emitted as custom_<View>_<Field>.",
        ),
        th.Property(
            "extra_entities",
            th.ArrayType(
                th.ObjectType(
                    th.Property("name", th.StringType, required=True),
                    th.Property("entity", th.StringType, required=True),
                    th.Property("key_properties", th.ArrayType(th.StringType), required=True),
                    th.Property("replication_key", th.StringType),
                    th.Property("expand", th.ArrayType(th.StringType)),
                    th.Property("description", th.StringType),
                    th.Property("schema", th.ObjectType(additional_properties=True)),
                )
            ),
            title="Extra entities",
            description="More top-level entities to read: stream name (letters, digits and _, "
            "starting with a letter or _, at most 63 characters, unlike every other stream's "
            "ignoring case), entity, key fields, optional replication key and $expand; 'schema' "
            "(JSON schema of the unwrapped record, property names as safe as stream names) for "
            "entities of a custom endpoint.",
        ),
        th.Property(
            "max_concurrent_requests",
            th.IntegerType(minimum=1, maximum=20),
            default=DEFAULT_MAX_CONCURRENT_REQUESTS,
            title="Concurrent requests",
            description="Requests in flight at once, at most; set it to the license's concurrent API "
            "requests (form SM604000). Streams paged in timestamp order read up to this many pages at "
            "once and still emit records in order; 1 reads one page after the other.",
        ),
        th.Property(
            "max_requests_per_minute",
            th.IntegerType(minimum=1),
            title="Requests per minute",
            description="Requests started in any minute, at most (none: no limit, as on a trial "
            "license). The license starts delaying requests at half its per-minute limit, so half "
            "that limit keeps the run out of its queue.",
        ),
        th.Property(
            "detect_deletes",
            th.ArrayType(th.StringType),
            title="Detect deletes",
            description="Streams whose records deleted in Acumatica are emitted as tombstones: the record's "
            "keys and _sdc_deleted_at. Each run reads the entity's keys (detect_deletes_page_size per "
            "request) and compares them with the previous run's, kept in detect_deletes_dir.",
        ),
        th.Property(
            "detect_deletes_dir",
            th.StringType,
            default=DEFAULT_DELETES_DIR,
            title="Key sets directory",
            description="Where each detect_deletes stream's key set is kept between runs (a sorted file "
            "per stream, named by its SHA-256, which the state records). It must persist from one run "
            "to the next: a run whose state names a missing file stops.",
        ),
        th.Property(
            "detect_deletes_page_size",
            th.IntegerType(minimum=1),
            default=DEFAULT_KEY_PAGE_SIZE,
            title="Keys per request",
            description="Keys per request ($top) of the detect_deletes key read.",
        ),
        *INQUIRY_PROPERTIES,
        AUDIT_SETTING,
    ).to_dict()
    config_jsonschema: ClassVar[dict[str, Any]] = {
        **_own_settings,
        "properties": {**CONNECTION_PROPERTIES, **_own_settings["properties"]},
        "required": ["base_url"],
    }

    # The run's single connection to the instance ------------------------------------------

    @cached_property
    def instance(self) -> Instance:
        return Instance(
            self.config["base_url"],
            self.config.get("endpoint_name", "Default"),
            self.config.get("endpoint_version", DEFAULT_VERSION),
        )

    def audit_source_description(self) -> str:
        tenant = self.config.get("tenant")
        where = public_url(self.instance.endpoint_url)
        return f"{where} tenant {tenant}" if tenant else where

    @cached_property
    def http_session(self) -> requests.Session:
        session = requests.Session()
        session.headers["Accept"] = "application/json"
        adapter = GatedAdapter(self.gate)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    @cached_property
    def gate(self) -> LicenseGate:
        """Every request of the run passes it: the license's concurrency and per-minute limits."""
        concurrent, per_minute = gate_settings(self.config)
        return LicenseGate(concurrent, per_minute)

    @cached_property
    def connection(self) -> ConnectionSettings:
        """The timeout and retry settings (shared by every plugin here)."""
        return ConnectionSettings.from_config(self.config)

    @cached_property
    def retry_policy(self) -> RetryPolicy:
        """The run's retry policy: every request, sign-ins included, follows it."""
        return RetryPolicy.from_config(self.config, logger=self.logger)

    @cached_property
    def auth(self) -> AcumaticaAuth:
        # Built lazily: discovery and --about never sign in.
        return make_auth(dict(self.config), self.instance, self.http_session, self.retry_policy)

    server_time: datetime | None = None
    #: Streams named in detect_deletes (set by discover_streams).
    deletes_streams: frozenset[str] = frozenset()

    def check_endpoint(self) -> None:
        """Fail fast, listing what the instance offers, if the endpoint version is absent."""
        response = self.get_outside_streams(self.instance.discovery_url)
        if not response.ok:
            msg = f"Could not list the instance's endpoints: {describe_error(response)}"
            raise AcumaticaError(msg)
        endpoints = response.json().get("endpoints", [])
        offered = [(e.get("name"), e.get("version")) for e in endpoints]
        wanted = (self.instance.endpoint, self.instance.version)
        if wanted not in offered:
            listing = ", ".join(f"{n} {v}" for n, v in offered) or "none"
            msg = (
                f"Endpoint {wanted[0]} {wanted[1]} (settings endpoint_name, endpoint_version) is not "
                f"offered by {self.instance.base_url}. The instance offers: {listing}."
            )
            raise AcumaticaError(msg)
        date = response.headers.get("Date")
        self.server_time = parsedate_to_datetime(date) if date else None

    def paging_order(self, stream: AcumaticaStream) -> str:
        """Which keyset order a stream pages in (see ``client``)."""
        setting = self.config.get("paging_order", "auto")
        if setting != "auto":
            return TIMESTAMP_ORDER if setting == "timestamp" else KEY_ORDER
        return TIMESTAMP_ORDER if self._honours_orderby(stream) else KEY_ORDER

    def _honours_orderby(self, stream: AcumaticaStream) -> bool:
        # Ask for the two highest keys first: an instance that ignores $orderby answers
        # in its ascending key order. One small request per stream settles it.
        keys = list(stream.spec.key_properties)
        params = {
            "$top": "2",
            "$select": ",".join(keys),
            "$orderby": ",".join(f"{k} desc" for k in keys),
        }
        response = self.get_outside_streams(self.instance.entity_url(stream.spec.entity), params)
        if response.status_code == 400:
            self.logger.warning(
                "Instance rejects $orderby (%s); paging %s in key order.",
                describe_error(response),
                stream.name,
            )
            return False
        if not response.ok:
            msg = f"Probing $orderby for stream {stream.name}: {describe_error(response)}"
            raise AcumaticaError(msg)
        rows = response.json()
        if len(rows) < 2:
            return True
        first, second = ([(r.get(k) or {}).get("value") for k in keys] for r in rows[:2])
        honoured = first > second
        if not honoured:
            self.logger.warning("Instance ignores $orderby; paging %s in key order.", stream.name)
        return honoured

    def get_outside_streams(
        self,
        url: str,
        params: dict[str, Any] | None = None,
        *,
        auth: AcumaticaAuth | None = None,
    ) -> requests.Response:
        """A GET outside the streams (probes, OData metadata), under the run's retry policy; one
        fresh sign-in on 401. ``auth`` defaults to the run's sign-in."""
        policy = self.retry_policy
        auth = auth or self.auth

        def send() -> requests.Response:
            response = self.http_session.get(
                url, params=params, auth=auth, timeout=self.connection.request_timeout_seconds
            )
            raise_if_retriable(response, policy)
            return response

        for signed_in_again in (False, True):
            try:
                response = policy.run(send, method="GET", url=url)
            except RetriesExhausted as exc:
                raise AcumaticaError(str(exc)) from None
            if response.status_code != 401 or signed_in_again:
                return response
            auth.invalidate()
        raise AssertionError("unreachable")

    # The SDK marks sync_all final; the run must still sign out exactly once after it.
    def sync_all(self) -> None:  # type: ignore[misc]
        """Check the endpoint, read the selected streams, and sign out exactly once."""
        # Parsed JSON holds no reference cycles: freezing the heap spares the collector
        # from re-scanning it on every page.
        gc.collect()
        gc.freeze()
        try:
            self.check_endpoint()
            super().sync_all()
        finally:
            if "auth" in self.__dict__:
                self.auth.close()
            gc.unfreeze()

    # Streams ---------------------------------------------------------------------------

    def discover_streams(self) -> list[AcumaticaStream | InquiryStream | RunsStream]:
        version = self.config.get("endpoint_version", DEFAULT_VERSION)
        if version not in catalog.versions():
            msg = (
                f"Setting endpoint_version {version!r} is not a Default endpoint version this tap "
                f"knows; use one of {', '.join(catalog.versions())}."
            )
            raise SettingError(msg)
        expand = self.config.get("expand") or {}
        customs = self.config.get("custom_fields") or {}
        specs = list(BUILTIN_STREAMS) + [extra_stream(s) for s in self.config.get("extra_entities") or []]
        seen: dict[str, str] = {}
        for spec in specs:
            other = seen.get(spec.name.casefold())
            if other is not None:
                builtin = any(b.name == other for b in BUILTIN_STREAMS)
                origin = "a built-in stream" if builtin else "another entry"
                msg = (
                    f"Setting extra_entities: stream name {spec.name!r} is taken by {origin} ({other!r}; "
                    "loaders ignore case); choose another name."
                )
                raise SettingError(msg)
            seen[spec.name.casefold()] = spec.name
        names = [spec.name for spec in specs]
        for setting, per_stream in (("expand", expand), ("custom_fields", customs)):
            unknown = sorted(set(per_stream) - set(names))
            if unknown:
                msg = f"Setting {setting} names unknown streams {unknown}; streams are: {', '.join(names)}."
                raise SettingError(msg)
        self.deletes_streams = streams_with_deletes(self.config, names)
        streams: list[AcumaticaStream | InquiryStream | RunsStream] = []
        for spec in specs:
            custom = tuple(CustomField.parse(c) for c in customs.get(spec.name, ()))
            streams.append(
                AcumaticaStream(
                    self, spec, _shape(spec, version, tuple(expand.get(spec.name, spec.expand)), custom)
                )
            )
        streams.extend(inquiry_streams(self))
        streams.append(RunsStream(self))
        return streams


def _shape(
    spec: EntityStream, version: str, expand: tuple[str, ...], custom: tuple[CustomField, ...]
) -> Shape:
    if spec.schema is not None or not catalog.has_entity(version, spec.entity):
        if spec.schema is None:
            msg = (
                f"Setting extra_entities, stream {spec.name}: entity {spec.entity} is not in the Default "
                f"endpoint {version}; give its 'schema'."
            )
            raise SettingError(msg)
        return GenericShape(spec.schema, spec.replication_key or None, expand, custom)
    fields = catalog.fields(version, spec.entity)
    if spec.replication_key is None:
        rk = next((f for f in REPLICATION_KEY_CANDIDATES if f in fields), None)
    else:
        rk = spec.replication_key or None
        if rk and rk not in fields:
            msg = (
                f"Setting extra_entities, stream {spec.name}: {spec.entity} has no field {rk} in endpoint "
                f"version {version}."
            )
            raise SettingError(msg)
    return RecordShape(version, spec.entity, expand, custom, utc_field=rk)


if __name__ == "__main__":
    TapAcumatica.cli()
