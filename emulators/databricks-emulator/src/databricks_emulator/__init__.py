"""Local emulator of Databricks: OAuth M2M, SQL Statement Execution API 2.0 and the Files API for volumes."""

from .app import Stats
from .config import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_PAT,
    SANDBOX_WAREHOUSE_ID,
    EmulatorConfig,
    Knobs,
    ServicePrincipal,
)
from .engine import SqlError
from .server import DatabricksEmulator

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_PAT",
    "SANDBOX_WAREHOUSE_ID",
    "DatabricksEmulator",
    "EmulatorConfig",
    "Knobs",
    "ServicePrincipal",
    "SqlError",
    "Stats",
]
