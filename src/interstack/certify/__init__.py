"""``interstack certify``: OpenStack Powered interoperability testing of any cloud.

Speaks only the standard API (openstacksdk, Tempest); never imports the gateway's internals,
so it certifies clouds that are not interstack just as well.
"""

from __future__ import annotations


class CertifyError(Exception):
    """A problem the user can fix, told in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
