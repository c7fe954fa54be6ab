"""Local emulator of the Sage Intacct XML gateway (Web Services, DTD 3.0): tests, benchmarks, sandbox."""

from .app import FunctionInfo, IntacctStats
from .config import DEFAULT_SIZES, GATEWAY_PATH, SANDBOX, EmulatorConfig, Knobs
from .schema import OBJECTS
from .server import IntacctEmulator
from .store import RecordNotFound, RecordStore, UnknownObject

__all__ = [
    "DEFAULT_SIZES",
    "GATEWAY_PATH",
    "OBJECTS",
    "SANDBOX",
    "EmulatorConfig",
    "FunctionInfo",
    "IntacctEmulator",
    "IntacctStats",
    "Knobs",
    "RecordNotFound",
    "RecordStore",
    "UnknownObject",
]
