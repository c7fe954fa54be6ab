"""Connection settings every Acumatica plugin takes, as JSON-schema properties.

Plain JSON schema (no Singer SDK types), so this package stays free of the SDK; a plugin merges
``CONNECTION_PROPERTIES`` into its ``config_jsonschema``. Secrets carry ``"secret": true``.
"""

from __future__ import annotations

from mlc_run_audit.retry import RETRY_SETTINGS

from acumatica_client import catalog

DEFAULT_VERSION = "24.200.001"


def _string(title: str, description: str, **extra) -> dict:
    return {"type": ["string"], "title": title, "description": description, **extra}


CONNECTION_PROPERTIES: dict[str, dict] = {
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
    "request_timeout": {
        "type": ["integer"],
        "title": "Request timeout (s)",
        "default": 300,
        "minimum": 1,
        "description": "Seconds to wait for one response.",
    },
    # Retries follow the policy every plugin here shares (mlc_run_audit.retry).
    **RETRY_SETTINGS,
}

#: Settings whose values never reach logs, files or state.
SECRET_SETTINGS = tuple(name for name, spec in CONNECTION_PROPERTIES.items() if spec.get("secret"))
