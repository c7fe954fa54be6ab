"""The connection settings every plugin here takes (request timeout, retries, backoff), declared once.

- :func:`connection_properties` gives them as Singer SDK properties for a plugin's config schema
  (:func:`connection_schema` as plain JSON-schema properties), with their bounds and defaults.
- :class:`ConnectionSettings` reads them from a config; a setting left out or null takes its default,
  so no plugin retypes a default.
- Durations end in ``_seconds``. :class:`RenamedSettings`, mixed into a plugin class, still takes a
  setting under the name it had before (:data:`RENAMED_SETTINGS`), logging a warning that names both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from singer_sdk import typing as th

from mlc_run_audit.checks import SettingError

DEFAULT_REQUEST_TIMEOUT_SECONDS: float = 300
DEFAULT_MAX_RETRIES = 8
DEFAULT_RETRY_BACKOFF_SECONDS: float = 1
DEFAULT_MAX_BACKOFF_SECONDS: float = 60

#: What every client here retries; a plugin names its API's own "try again" answers on top.
RETRIED = "HTTP 429 and 5xx answers and requests that got no answer (refused, dropped, timed out)"

#: Old setting names that still work, with the names that replaced them (durations end in _seconds).
RENAMED_SETTINGS: dict[str, str] = {"request_timeout": "request_timeout_seconds"}


def seconds_property(
    name: str,
    title: str,
    description: str,
    *,
    default: float,
    minimum: float | None = 0,
    exclusive_minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
) -> th.Property[Any]:
    """A duration setting: its name ends in ``_seconds`` and its title in ``(s)``, one shape everywhere.
    ``whole`` makes it an integer (for an API that takes whole seconds)."""
    if not name.endswith("_seconds"):
        msg = f"duration setting {name} must end in _seconds"
        raise ValueError(msg)
    kind = th.IntegerType if whole else th.NumberType
    bounds: dict[str, Any] = {"minimum": minimum, "exclusive_minimum": exclusive_minimum, "maximum": maximum}
    bounds = {k: v for k, v in bounds.items() if v is not None}
    return th.Property(name, kind(**bounds), default=default, title=f"{title} (s)", description=description)


def connection_properties(*, retried: str = RETRIED, request_timeout: bool = True) -> list[th.Property[Any]]:
    """The shared connection settings as SDK properties. ``retried`` says which failures the plugin
    retries; ``request_timeout=False`` leaves the timeout out, for a client that derives its own."""
    properties: list[th.Property[Any]] = [
        seconds_property(
            "request_timeout_seconds",
            "Request timeout",
            "Seconds to wait for one answer (formerly request_timeout).",
            default=DEFAULT_REQUEST_TIMEOUT_SECONDS,
            minimum=None,
            exclusive_minimum=0,
        ),
        th.Property(
            "max_retries",
            th.IntegerType(minimum=0),
            default=DEFAULT_MAX_RETRIES,
            title="Retries per request",
            description=f"Retries after the first attempt (0: one attempt) of {retried}. Each retry "
            "logs one warning naming the request; then the run fails naming the host.",
        ),
        seconds_property(
            "retry_backoff_seconds",
            "Retry backoff",
            "Wait before the first retry; it doubles each retry, with jitter (a random 50-100 % of it), "
            "up to max_backoff_seconds.",
            default=DEFAULT_RETRY_BACKOFF_SECONDS,
        ),
        seconds_property(
            "max_backoff_seconds",
            "Maximum backoff",
            "Longest wait between two attempts, also when the server asks for a longer one (Retry-After).",
            default=DEFAULT_MAX_BACKOFF_SECONDS,
        ),
    ]
    return properties if request_timeout else properties[1:]


def connection_schema(*, retried: str = RETRIED, request_timeout: bool = True) -> dict[str, dict[str, Any]]:
    """:func:`connection_properties` as JSON-schema properties (name -> schema)."""
    schema = th.PropertiesList(
        *connection_properties(retried=retried, request_timeout=request_timeout)
    ).to_dict()
    properties: dict[str, dict[str, Any]] = schema["properties"]
    return properties


@dataclass(frozen=True)
class ConnectionSettings:
    """The shared connection settings of one config, defaults applied."""

    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    retry_backoff_seconds: float = DEFAULT_RETRY_BACKOFF_SECONDS
    max_backoff_seconds: float = DEFAULT_MAX_BACKOFF_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ConnectionSettings:
        """The settings of a plugin config; one left out or null takes its default."""

        def setting(name: str, default: float) -> float:
            value = config.get(name)
            return default if value is None else float(value)

        return cls(
            request_timeout_seconds=setting("request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT_SECONDS),
            max_retries=int(setting("max_retries", DEFAULT_MAX_RETRIES)),
            retry_backoff_seconds=setting("retry_backoff_seconds", DEFAULT_RETRY_BACKOFF_SECONDS),
            max_backoff_seconds=setting("max_backoff_seconds", DEFAULT_MAX_BACKOFF_SECONDS),
        )


def rename_settings(
    config: Mapping[str, Any], renamed: Mapping[str, str], logger: logging.Logger
) -> dict[str, Any]:
    """``config`` with each setting given under an old name (``renamed``: old -> new) moved to its new
    name, and one warning per such setting naming both. Both names with different values is a
    :class:`~mlc_run_audit.checks.SettingError`: which one was meant cannot be known."""
    out = dict(config)
    for old, new in renamed.items():
        if old not in out:
            continue
        value = out.pop(old)
        if new in out and out[new] != value:
            msg = (
                f"Settings {old} ({value!r}) and {new} ({out[new]!r}) are both set; {old} is the old "
                f"name of {new}: keep only {new}."
            )
            raise SettingError(msg)
        logger.warning("Setting %s is deprecated: it is now %s; rename it in the config.", old, new)
        out[new] = value
    return out


def renamed_schema(
    renamed: Mapping[str, str], properties: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """JSON-schema properties for the old names in ``renamed`` (old -> new), typed like the new ones,
    without defaults: declared, Meltano still passes them (and their environment variables) on."""
    return {
        old: {
            "type": properties[new]["type"],
            "title": f"{new} (old name)",
            "deprecated": True,
            "description": f"Deprecated: the old name of {new}; set {new} instead.",
        }
        for old, new in renamed.items()
        if new in properties
    }


if TYPE_CHECKING:
    from singer_sdk.plugin_base import PluginBase as _Plugin
else:
    _Plugin = object


class RenamedSettings(_Plugin):
    """Mixin for an SDK tap or target (first among its bases): a setting given under its old name
    (:attr:`renamed_settings`, old -> new) is read under the new one, with a warning naming both,
    before the SDK validates the config and applies the defaults (so also when it came from an
    environment variable). The old names stay in the config schema, marked deprecated."""

    renamed_settings: ClassVar[Mapping[str, str]] = RENAMED_SETTINGS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        schema = cls.__dict__.get("config_jsonschema")
        if isinstance(schema, dict):
            properties = schema.get("properties", {})
            cls.config_jsonschema = {
                **schema,
                "properties": {**properties, **renamed_schema(cls.renamed_settings, properties)},
            }

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        self._config = rename_settings(self._config, self.renamed_settings, self.logger)
        return super()._validate_config(raise_errors=raise_errors)
