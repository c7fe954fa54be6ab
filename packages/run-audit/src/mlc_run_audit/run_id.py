"""The run id: Meltano's when it shares one, else one per process."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping

#: `meltano run --run-id` reads this variable; set in the environment, Meltano and every plugin of
#: the run see the same id (``mlc-secrets run`` sets it when it is not set).
RUN_ID_ENV = "MELTANO_RUN_ID"

_generated: str | None = None


class RunIdError(ValueError):
    """MELTANO_RUN_ID is set to something that is not a UUID."""


def shared_run_id(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the run id comes from ``MELTANO_RUN_ID`` (shared with Meltano and the other plugins)."""
    return bool((os.environ if environ is None else environ).get(RUN_ID_ENV, "").strip())


def current_run_id(environ: Mapping[str, str] | None = None) -> str:
    """This run's id, as a canonical UUID string.

    ``MELTANO_RUN_ID`` when set (it must be a UUID, as Meltano requires); otherwise a random id made
    once per process, so every caller in the process agrees.
    """
    global _generated
    value = (os.environ if environ is None else environ).get(RUN_ID_ENV, "").strip()
    if value:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            raise RunIdError(
                f"{RUN_ID_ENV} must be a UUID (the form `meltano run --run-id` takes), got {value[:64]!r}"
            ) from None
    if _generated is None:
        _generated = str(uuid.uuid4())
    return _generated
