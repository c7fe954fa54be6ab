"""HTTP transport, lifecycle, counters and CLI shared by the ml-connector API emulators."""

from .http import HttpEmulator, Request, Response
from .stats import Stats

__all__ = ["HttpEmulator", "Request", "Response", "Stats"]
