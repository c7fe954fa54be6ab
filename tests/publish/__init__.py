"""Tests of the plugins as published: Hub definitions, settings, built artifacts and installs."""

from __future__ import annotations

import os


def clean_env() -> dict[str, str]:
    """This process's environment without any Meltano or plugin setting that would override the project."""
    prefixes = ("MELTANO_", "TAP_", "TARGET_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
