"""Local emulator of the Looker API 4.0: login, LookML explores, queries and query tasks."""

from emulator_kit import Stats

from .config import DEFAULT_SIZES, SANDBOX, ApiCredentials, EmulatorConfig, Knobs
from .lookml import MODEL, QueryError
from .server import LookerEmulator

__all__ = [
    "DEFAULT_SIZES",
    "MODEL",
    "SANDBOX",
    "ApiCredentials",
    "EmulatorConfig",
    "Knobs",
    "LookerEmulator",
    "QueryError",
    "Stats",
]
