"""Local emulator of Acumatica's contract-based REST API (Default endpoint 20.200.001 to 24.200.001)."""

from .app import RequestInfo, Stats
from .config import DEFAULT_SIZES, SANDBOX_CLIENT_ID, EmulatorConfig, Knobs, OAuthClient, User
from .generator import KEY_FIELDS
from .server import AcumaticaEmulator
from .store import RecordNotFound, RecordStore

__all__ = [
    "DEFAULT_SIZES",
    "KEY_FIELDS",
    "SANDBOX_CLIENT_ID",
    "AcumaticaEmulator",
    "EmulatorConfig",
    "Knobs",
    "OAuthClient",
    "RecordNotFound",
    "RecordStore",
    "RequestInfo",
    "Stats",
    "User",
]
