"""Gateway errors, at the three levels Intacct reports them (all inside an HTTP 200).

The error numbers XL03000003 (XML parse error), XL03000006 (sign-in incorrect), PL04000055 and
GW-0010/GW-0011 appear in Intacct's SDK fixtures and documentation; the others used here are
UNCONFIRMED choices in the same pattern (a client should key on the level and the text, not on them).
"""

from __future__ import annotations


class GatewayError(Exception):
    """An ``<error>`` entry: errorno, description, description2, correction."""

    level = "function"

    def __init__(
        self, errorno: str, description: str = "", description2: str = "", correction: str = ""
    ) -> None:
        super().__init__(f"{errorno}: {description2 or description}")
        self.errorno, self.description, self.description2, self.correction = (
            errorno,
            description,
            description2,
            correction,
        )


class ControlError(GatewayError):
    level = "control"


class AuthError(GatewayError):
    level = "authentication"


def xml_parse_error(detail: str) -> ControlError:
    return ControlError(
        "XL03000003",
        "XML Parse error",
        f"Error in XML document: {detail}",
        "Check the request against the DTD 3.0 envelope.",
    )


def bad_request(detail: str) -> ControlError:
    return ControlError("GW-0011", "Invalid Request", detail, "Check the request envelope.")


def bad_sender() -> ControlError:
    return ControlError(
        "XL03000005",
        "Incorrect Intacct XML Partner ID or password.",
        "",
        "Check the Web Services sender ID and password.",
    )


def rate_limited() -> ControlError:
    return ControlError(
        "GW-0010",
        "Too many requests",
        "The rate of API requests for this company exceeded the limit of its performance tier.",
        "Wait and retry the request with backoff.",
    )


def duplicate_request(controlid: str) -> ControlError:
    return ControlError(
        "XL03000009",
        "Duplicate control ID",
        f"A request with control ID {controlid} was already processed.",
        "Use a new control ID, or uniqueid false to allow repeats.",
    )


def bad_login() -> AuthError:
    return AuthError(
        "XL03000006", "", "Sign-in information is incorrect", "Check the user ID, company ID and password."
    )


def bad_session() -> AuthError:
    return AuthError(
        "XL03000006",
        "",
        "Invalid session",
        "Sign in again with getAPISession; the session expired or is not valid on this endpoint.",
    )


def bad_entity(locationid: str) -> AuthError:
    return AuthError(
        "XL03000006",
        "",
        f"Sign-in information is incorrect: entity {locationid} not found",
        "Check the location ID of the entity.",
    )


def unknown_object(name: str) -> GatewayError:
    return GatewayError("DL02000001", "", f"Object definition {name} not found", "Check the object name.")


def bad_field(name: str, obj: str) -> GatewayError:
    return GatewayError(
        "DL02000002", "", f"Invalid field {name} for object {obj}", "Check the field names with lookup."
    )


def unqueryable(obj: str, fields: list[str]) -> GatewayError:
    """As public SDK issues quote it (intacct-sdk-js#83, intacct-sdk-net#150): the text lists the
    object in lower case and the fields in brackets. Whether the text is in description or
    description2 is UNCONFIRMED; here it is description2, like the other function errors."""
    return GatewayError(
        "XL03000006",
        "",
        f"The following fields cannot be queried: [\n        {obj.lower()}: [{', '.join(fields)}] ]",
    )


def bad_query(detail: str) -> GatewayError:
    return GatewayError("DL02000003", "", detail, "Check the query syntax and values.")


def not_subscribed(name: str) -> GatewayError:
    return GatewayError(
        "BL34000061",
        "",
        f"You are not subscribed to the application that provides {name}.",
        "Subscribe to the application, or remove the object from the request.",
    )


def permission_denied(name: str) -> GatewayError:
    return GatewayError(
        "BL34000062",
        "",
        f"You do not have permission to read {name}.",
        "Ask an administrator for read permission on the object.",
    )


def duplicate_function(controlid: str) -> GatewayError:
    return GatewayError(
        "XL03000009",
        "Duplicate control ID",
        f"A function with control ID {controlid} was already executed successfully.",
        "Use a new control ID, or uniqueid false to allow repeats.",
    )


def bad_result_id(result_id: str) -> GatewayError:
    return GatewayError(
        "DL02000004", "", f"Result set {result_id} not found or fully read", "Run readByQuery again."
    )
