"""Object storage in a region without ``object_bucket``: every call is ``NotSupported``, the
capabilities say so, and the services layer never calls these."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NoReturn

from interstack.backends.contract import (
    NativeRef,
    ObjectStoreDriver,
)
from interstack.errors import NotSupported


def _unsupported(domain: str) -> NoReturn:
    raise NotSupported(f"this aws region provides no {domain} (no object_bucket is set)")


class UnsupportedObjectStore(ObjectStoreDriver):
    def create_container(self, account: str, name: str) -> NoReturn:
        _unsupported("object storage")

    def delete_container(self, ref: NativeRef) -> NoReturn:
        _unsupported("object storage")

    def put_object(
        self, container: NativeRef, name: str, data: Iterable[bytes], content_type: str
    ) -> NoReturn:
        _unsupported("object storage")

    def head_object(self, container: NativeRef, name: str) -> NoReturn:
        _unsupported("object storage")

    def get_object(
        self, container: NativeRef, name: str, offset: int = 0, length: int | None = None
    ) -> NoReturn:
        _unsupported("object storage")

    def delete_object(self, container: NativeRef, name: str) -> NoReturn:
        _unsupported("object storage")

    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10_000
    ) -> NoReturn:
        _unsupported("object storage")
