"""Where an Acumatica instance lives and how its URLs are built."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Instance:
    """An Acumatica site: base URL including any instance path, endpoint name and version.

    ``Instance("https://erp.example.com/AcumaticaERP", "Default", "24.200.001")`` serves
    entities under ``https://erp.example.com/AcumaticaERP/entity/Default/24.200.001/``.
    """

    base_url: str
    endpoint: str = "Default"
    version: str = "24.200.001"

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def discovery_url(self) -> str:
        """``GET /entity`` lists the endpoints and versions the instance offers."""
        return f"{self.base_url}/entity"

    @property
    def endpoint_url(self) -> str:
        """Root of the configured endpoint version (no trailing slash)."""
        return f"{self.base_url}/entity/{quote(self.endpoint)}/{quote(self.version)}"

    def entity_url(self, entity: str, *keys: str) -> str:
        """URL of a top-level entity, or of one record by its key values."""
        url = f"{self.endpoint_url}/{quote(entity)}"
        for key in keys:
            url += "/" + quote(str(key), safe="")
        return url

    @property
    def token_url(self) -> str:
        """OAuth 2.0 token endpoint of the instance's identity server."""
        return f"{self.base_url}/identity/connect/token"

    @property
    def login_url(self) -> str:
        """Cookie sign-in."""
        return f"{self.base_url}/entity/auth/login"

    @property
    def logout_url(self) -> str:
        """Cookie sign-out; frees the API user slot at once."""
        return f"{self.base_url}/entity/auth/logout"
