"""For the loader's venv: against an emulator, skip target-bigquery's waits for eventual consistency.

target_bigquery.core sleeps a fixed 5 s after creating each table and 2.5 s after each staging
table, because real BigQuery may not show a new table at once. The emulator shows it at once, and
those waits made up most of a sandbox run. `bigquery_compat.pth` installs this only when
BIGQUERY_EMULATOR_HOST is set, so runs against BigQuery keep the waits.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import time
import types

PATCHED_MODULE = "target_bigquery.core"


class _TimeWithoutWaits(types.ModuleType):
    """`time` for that one module, with `sleep` returning at once."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        del seconds


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != PATCHED_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_patch(module: types.ModuleType) -> None:
            exec_module(module)
            module.time = _TimeWithoutWaits()

        spec.loader.exec_module = exec_then_patch
        return spec


def install() -> None:
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
