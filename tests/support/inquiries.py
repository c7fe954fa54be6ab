"""The generic inquiries the tests read, and the emulator's rows of each (what the tap must emit)."""

from __future__ import annotations

#: Setting ``generic_inquiries`` for the emulator's seeded inquiries: AP aging through OData v3,
#: incremental; the trial balance through OData v4, in full (the same as meltano.yml's sandbox).
GENERIC_INQUIRIES = [
    {
        "name": "APAgingDetail",
        "odata_version": 3,
        "key_properties": ["DocType", "RefNbr"],
        "replication_key": "LastModifiedDateTime",
        "stream": "ap_aging",
    },
    {
        "name": "GLTrialBalance",
        "odata_version": 4,
        "key_properties": ["FinPeriodID", "AccountCD"],
        "stream": "gl_trial_balance",
    },
]

#: stream -> (inquiry, key columns)
INQUIRY_STREAMS = {
    entry["stream"]: (entry["name"], list(entry["key_properties"])) for entry in GENERIC_INQUIRIES
}

#: The emulator's UTC offset (EmulatorConfig.timezone_offset), as the tap's instance_time_zone.
INSTANCE_TIME_ZONE = "-05:00"


def source_rows(emulator, inquiry: str) -> list[dict]:
    """The inquiry's current rows as the emulator computes them (plain values, dates with offset)."""
    return emulator.app.odata.inquiries[inquiry].rows(emulator.store)
