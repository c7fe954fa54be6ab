"""Drained batches load on a thread of their own while the next batch is read.

Loading a batch (staging its files, the audit check, MERGE or INSERT, the audit row) mostly waits on
the warehouse. Done on the thread that reads the input, that wait stops the reading, and upstream the
tap, for the length of every load. ``BackgroundLoads`` runs each load on its own thread instead, one
at a time and in the order the batches were drained (a batch drained while the previous one is still
loading waits for it), so a key's newer row is never merged before its older one.

Nothing else changes: a failed load fails the run (the reading thread raises the load's own error at
its next record, or wherever it waits), no later batch is loaded after it, and STATE waits for every
load before it (``TargetDatabricks._write_state_message``), so it still moves only after commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundLoads:
    """At most one batch load running besides the reading thread, and the first error of any load."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, load: Callable[[], None], name: str) -> None:
        """Start ``load`` once the previous load has ended; raises that load's error instead when it
        failed (then ``load`` is not run)."""
        with self._lock:
            self._wait_locked()
            thread = threading.Thread(target=self._run, args=(load,), name=name)
            self._running = thread
            thread.start()

    def _run(self, load: Callable[[], None]) -> None:
        try:
            load()
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._error = exc

    def wait(self) -> None:
        """Wait for the running load; raise its error if it failed."""
        with self._lock:
            self._wait_locked()

    def _wait_locked(self) -> None:
        if self._running is not None:
            self._running.join()
            self._running = None
        self.raise_failure()

    def raise_failure(self) -> None:
        """Raise the error of a load that failed (cheap enough to call for every record)."""
        if self._error is not None:
            raise self._error
