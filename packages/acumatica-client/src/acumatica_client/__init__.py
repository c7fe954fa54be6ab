"""Client pieces shared by the Acumatica tap and target."""

from acumatica_client.auth import AcumaticaAuth, CookieLoginAuth, OAuthPasswordAuth, make_auth
from acumatica_client.errors import AcumaticaAuthError, AcumaticaError, describe_error
from acumatica_client.instance import Instance

__all__ = [
    "AcumaticaAuth",
    "AcumaticaAuthError",
    "AcumaticaError",
    "CookieLoginAuth",
    "Instance",
    "OAuthPasswordAuth",
    "describe_error",
    "make_auth",
]
