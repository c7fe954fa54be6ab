"""Send every snowflake-connector connection of this process to the fakesnow server.

Loaded by `snowflake_compat.pth` at interpreter start, and only when FAKESNOW_PORT is set:
target-snowflake has no host/port/protocol setting, so its connections are pointed at
`http://127.0.0.1:$FAKESNOW_PORT` here. Without the variable nothing is imported or changed.
"""

from __future__ import annotations

import os


def install() -> None:
    from snowflake.connector.connection import SnowflakeConnection

    if getattr(SnowflakeConnection.__init__, "redirected_to_fakesnow", False):
        return
    original = SnowflakeConnection.__init__
    port = int(os.environ["FAKESNOW_PORT"])

    def __init__(self, *args, **kwargs) -> None:
        kwargs.update(host=os.environ.get("FAKESNOW_HOST", "127.0.0.1"), port=port, protocol="http")
        original(self, *args, **kwargs)

    __init__.redirected_to_fakesnow = True
    SnowflakeConnection.__init__ = __init__
