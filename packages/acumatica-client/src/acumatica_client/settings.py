"""Connection settings every Acumatica plugin takes, as JSON-schema properties.

Plain JSON schema, which a plugin merges into its ``config_jsonschema``. Secrets carry
``"secret": true``. The timeout and retry settings are the ones every plugin here shares
(``mlc_run_audit.settings``).
"""

from __future__ import annotations

from typing import Any

from mlc_run_audit.settings import connection_schema

from acumatica_client import catalog

DEFAULT_VERSION = "24.200.001"


def _string(title: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"type": ["string"], "title": title, "description": description, **extra}


CONNECTION_PROPERTIES: dict[str, dict[str, Any]] = {
    "base_url": _string(
        "Instance URL",
        "URL of the Acumatica site including any instance path, e.g. https://erp.example.com/AcumaticaERP.",
    ),
    "endpoint_name": _string(
        "Endpoint name", "Contract-based endpoint (the web services endpoint name).", default="Default"
    ),
    "endpoint_version": _string(
        "Endpoint version",
        "Endpoint version, one of "
        + ", ".join(catalog.versions())
        + ". Checked against the instance's GET /entity at start.",
        default=DEFAULT_VERSION,
    ),
    "tenant": _string("Tenant", "Tenant (company) to sign in to."),
    "branch": _string("Branch", "Branch to sign in to (cookie login)."),
    "auth_method": _string(
        "Authentication method",
        "'oauth': OAuth 2.0 password grant with a connected "
        "application (recommended); 'cookie': /entity/auth/login, signed out at the end "
        "of the run.",
        default="oauth",
        enum=["oauth", "cookie"],
    ),
    "client_id": _string(
        "OAuth client ID",
        "Connected application client ID, GUID@Tenant (the tenant is appended from 'tenant' when missing).",
    ),
    "client_secret": _string(
        "OAuth client secret", "Shared secret of the connected application.", secret=True, writeOnly=True
    ),
    "username": _string("Username", "Acumatica user to sign in as."),
    "password": _string("Password", "That user's password.", secret=True, writeOnly=True),
    **connection_schema(),
}

#: Settings whose values never reach logs, files or state.
SECRET_SETTINGS = tuple(name for name, spec in CONNECTION_PROPERTIES.items() if spec.get("secret"))
