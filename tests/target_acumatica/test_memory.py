"""Journal rows wait on disk, not in memory, until the end of the input: the memory a run allocates
does not grow with the number of rows and journals (allocations counted with tracemalloc)."""

from __future__ import annotations

import contextlib
import tracemalloc

from target_acumatica.target import TargetAcumatica

from tests.support.acumatica_target import allocation_rows, audit_lines, singer_input, target_config


def _peak_bytes(emulator, tmp_path, allocations: int) -> int:
    """Peak bytes allocated while a dry run reads ``allocations`` journals of 20 rows and builds them."""
    path = tmp_path / f"input-{allocations}.singer"
    path.write_text(singer_input(allocation_rows(allocations=allocations, lines=19)))
    audit = tmp_path / f"audit-{allocations}"
    # A dry run looks every journal up and posts nothing, so the emulator in this process stays as it is.
    target = TargetAcumatica(config=target_config(emulator, audit, dry_run=True))
    target.api.get_list("Account", **{"$top": "1"})  # sign in before counting
    with (
        path.open() as stdin,
        (tmp_path / "out.txt").open("w") as out,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        tracemalloc.start()
        try:
            target.listen(file_input=stdin)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    statuses = {a["status"] for a in audit_lines(audit)}
    assert len(audit_lines(audit)) == allocations and statuses == {"would-post"}
    return peak


def test_memory_does_not_grow_with_rows_and_journals(emulator, tmp_path):
    small = _peak_bytes(emulator, tmp_path, 50)  # 1,000 rows
    large = _peak_bytes(emulator, tmp_path, 200)  # 4,000 rows
    # Holding the rows in memory made the larger run allocate 3.5 times as much; the emulator answers in
    # this process, so its own buffers (which vary with the machine's load) are counted too.
    assert large < small * 2, (small, large)
