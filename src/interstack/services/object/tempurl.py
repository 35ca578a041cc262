"""Temporary URLs: an HMAC over method, expiry and path, signed with an account or container
``Temp-URL-Key``, lets anyone without a token do that one thing until it expires."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime

from interstack.errors import Unauthorized
from interstack.services.object import records
from interstack.services.object.access import Operation, TempUrlGrant
from interstack.services.object.common import TEMP_URL_KEYS, Storage
from interstack.services.object.model import ObjectPath

DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
_HEX_LENGTHS = {40: "sha1", 64: "sha256", 128: "sha512"}
METHODS = {
    "GET": Operation.OBJECT_READ,
    "HEAD": Operation.OBJECT_READ,
    "PUT": Operation.OBJECT_WRITE,
    "POST": Operation.OBJECT_WRITE,
    "DELETE": Operation.OBJECT_WRITE,
}
#: a signature for one of these methods is good for HEAD too, as in Swift
_HEAD_FROM = ("HEAD", "GET", "POST", "PUT")


def _invalid() -> Unauthorized:
    return Unauthorized("Temp URL invalid.")


def parse_expires(raw: str) -> int:
    """``temp_url_expires``: Unix seconds, or an ISO 8601 UTC time (``2030-01-01T00:00:00Z``)."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        moment = datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise _invalid() from None
    return int(moment.timestamp())


def _signature(raw: str) -> tuple[str, bytes]:
    """The digest name and the signature bytes of ``temp_url_sig`` (hex, or ``algo:base64``)."""
    algorithm, sep, encoded = raw.partition(":")
    try:
        if sep:
            if algorithm not in DIGESTS:
                raise _invalid()
            padded = encoded + "=" * (-len(encoded) % 4)
            return algorithm, base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        name = _HEX_LENGTHS.get(len(raw))
        if name is None:
            raise _invalid()
        return name, bytes.fromhex(raw)
    except (binascii.Error, ValueError):
        raise _invalid() from None


class TempUrlService:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def _keys(self, path: ObjectPath) -> list[bytes]:
        with self.storage.db.session() as session:
            account = records.account_row(session, path.region, path.account)
            container = records.container_row(session, path.region, path.account, path.container)
            metas = [account.meta if account else {}, container.meta if container else {}]
        return [m[k].encode() for m in metas for k in TEMP_URL_KEYS if m.get(k)]

    def verify(
        self,
        path: ObjectPath,
        method: str,
        signed_paths: list[str],
        signature: str,
        expires: str,
        prefix: str | None = None,
    ) -> TempUrlGrant:
        """The grant a temporary URL carries, or 401.

        ``signed_paths`` are the forms of the request path a client may have signed (the
        gateway's full path, and Swift's ``/v1/...`` part of it); ``prefix`` is
        ``temp_url_prefix`` for a URL good for every object under that prefix.
        """
        operation = METHODS.get(method)
        if operation is None or not path.container or not path.object:
            raise _invalid()
        expiry = parse_expires(expires)
        if expiry < self.storage.clock():
            raise _invalid()
        if prefix is not None and not path.object.startswith(prefix):
            raise _invalid()
        algorithm, wanted = _signature(signature)
        keys = self._keys(path)
        methods = _HEAD_FROM if method == "HEAD" else (method,)
        for signed in signed_paths:
            subject = signed
            if prefix is not None:
                container_path = signed[: len(signed) - len(path.object)]
                subject = f"prefix:{container_path}{prefix}"
            for candidate in methods:
                message = f"{candidate}\n{expires}\n{subject}".encode()
                for key in keys:
                    digest = hmac.new(key, message, DIGESTS[algorithm]).digest()
                    if hmac.compare_digest(digest, wanted):
                        granted = ObjectPath(
                            path.region, path.account, path.container, prefix or path.object
                        )
                        return TempUrlGrant(granted, operation, prefix=prefix is not None)
        raise _invalid()
