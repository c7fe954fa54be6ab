"""Each of our taps, against its emulator, piped into third-party Singer targets installed from the
package index in their own venvs: target-jsonl (singer-python) and meltanolabs-target-csv (Meltano
Singer SDK). Every row lands, equal to what the tap emitted (amounts with the same digits), and what
the tap emitted equals the emulator's data."""

from __future__ import annotations

import pytest
from mlc_run_audit import RUNS_STREAM

from tests.support.interop import csv_mismatches, csv_rows, exact, jsonl_rows, pipe, third_party, write_json
from tests.support.interop_taps import TAPS, acumatica_args, has_amounts
from tests.support.taprun import start_in_a_new_second


def run_into(request, tap_name: str, tmp_path, target: list[str]):
    tap = TAPS[tap_name]
    emu = request.getfixturevalue(tap.emulator)
    run = pipe(tap.args(emu, tmp_path), target, tmp_path).check()
    assert not tap.source_mismatches(emu, run.tap)
    assert sorted(run.tap.records) == sorted(tap.streams)
    assert has_amounts(run.tap)
    return run, tap.streams


@pytest.mark.parametrize("tap_name", list(TAPS))
def test_into_target_jsonl_every_row_lands_as_emitted(request, tap_name, tmp_path):
    out = tmp_path / "jsonl"
    config = write_json(tmp_path, "target.json", {"destination_path": str(out), "do_timestamp_file": False})
    run, streams = run_into(
        request, tap_name, tmp_path, [third_party("target-jsonl", "target-jsonl"), "--config", config]
    )
    assert sorted(p.stem for p in out.glob("*.jsonl")) == sorted(streams)
    for stream in streams:
        landed = jsonl_rows(out / f"{stream}.jsonl")
        assert len(landed) == len(run.tap.records[stream]), stream
        assert [exact(r) for r in landed] == [exact(r) for r in run.tap.records[stream]], stream
    # target-jsonl passes on the last STATE when the input ends with one.
    assert run.target_states == [run.tap.state]


@pytest.mark.parametrize("tap_name", list(TAPS))
def test_into_meltanolabs_target_csv_every_row_lands_as_emitted(request, tap_name, tmp_path):
    out = tmp_path / "csv"
    settings = {"output_path": str(out), "file_naming_scheme": "{stream_name}.csv"}
    config = write_json(tmp_path, "target.json", settings)
    run, streams = run_into(
        request, tap_name, tmp_path, [third_party("meltanolabs-target-csv", "target-csv"), "--config", config]
    )
    assert sorted(p.stem for p in out.glob("*.csv")) == sorted(streams)
    for stream in streams:
        rows = csv_rows(out / f"{stream}.csv")
        assert not csv_mismatches(run.tap.schemas[stream], run.tap.records[stream], rows), stream
    assert run.target_states[-1] == run.tap.state


@pytest.mark.parametrize("tap_name", list(TAPS))
def test_audit_columns_off_and_audit_runs_unselected_leave_the_source_fields(request, tap_name, tmp_path):
    """What each README tells a Singer user who wants none of the audit additions: the landed files
    hold exactly the source's fields, nothing prefixed ``_audit_`` and no ``_audit_runs`` file."""
    tap = TAPS[tap_name]
    emu = request.getfixturevalue(tap.emulator)
    out = tmp_path / "jsonl"
    config = write_json(tmp_path, "target.json", {"destination_path": str(out), "do_timestamp_file": False})
    target = [third_party("target-jsonl", "target-jsonl"), "--config", config]
    run = pipe(tap.args(emu, tmp_path, audit=False), target, tmp_path).check()
    assert not tap.source_mismatches(emu, run.tap)
    streams = [s for s in tap.streams if s != RUNS_STREAM]
    assert sorted(p.stem for p in out.glob("*.jsonl")) == sorted(streams)
    for stream in streams:
        assert not [p for p in run.tap.schemas[stream]["properties"] if p.startswith("_audit_")], stream
        landed = jsonl_rows(out / f"{stream}.jsonl")
        assert [exact(r) for r in landed] == [exact(r) for r in run.tap.records[stream]], stream
        assert landed and not [k for r in landed for k in r if k.startswith("_audit_")], stream


def test_a_rerun_from_the_state_target_csv_passed_on_reads_only_the_changes(tmp_path, acumatica):
    """The STATE a third-party target passes on (Meltano keeps the target's, not the tap's) resumes
    tap-acumatica: the next run emits exactly the bills changed or added since."""

    def run(folder, state: dict | None = None):
        folder.mkdir(exist_ok=True)
        settings = {"output_path": str(folder / "csv"), "file_naming_scheme": "{stream_name}.csv"}
        target = [third_party("meltanolabs-target-csv", "target-csv"), "--config"]
        tap = acumatica_args(acumatica, folder)
        if state is not None:
            tap += ["--state", write_json(folder, "state.json", state)]
        done = pipe(tap, [*target, write_json(folder, "target.json", settings)], folder).check()
        bills = csv_rows(folder / "csv" / "bills.csv")
        assert not csv_mismatches(done.tap.schemas["bills"], done.tap.records["bills"], bills)
        return done, bills

    first, _ = run(tmp_path / "first")
    acumatica.store.modify("Bill", ("Bill", "000003"), {"Description": "changed between runs"})
    added = acumatica.store.insert("Bill", {"Description": "added between runs"})
    start_in_a_new_second(acumatica)
    _, bills = run(tmp_path / "second", first.target_states[-1])
    assert sorted(b["ReferenceNbr"] for b in bills) == sorted(["000003", added["ReferenceNbr"]])
    assert {b["Description"] for b in bills} == {"changed between runs", "added between runs"}
