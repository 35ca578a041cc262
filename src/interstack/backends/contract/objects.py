"""Object storage: containers of named objects, always streamed."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass

from interstack.backends.contract.common import ByteStream, NativeRef


@dataclass(frozen=True)
class ObjectInfo:
    name: str
    size: int
    #: hex MD5 of the content (what object APIs call the ETag)
    md5: str
    content_type: str


class ObjectStoreDriver(abc.ABC):
    """Containers and objects.

    Containers are named per account (the gateway's project), so ``create_container`` takes
    both and returns a native ref; objects are addressed by container ref and name, because
    object names are the identity object APIs use.
    """

    @abc.abstractmethod
    def create_container(self, account: str, name: str) -> NativeRef:
        """Create the container, or return the existing one of that account and name."""

    @abc.abstractmethod
    def delete_container(self, ref: NativeRef) -> None:
        """Delete an empty container. Raises ``Conflict`` while it holds objects; already gone
        is not an error."""

    @abc.abstractmethod
    def put_object(
        self, container: NativeRef, name: str, data: Iterable[bytes], content_type: str
    ) -> ObjectInfo:
        """Store the object from chunks, replacing any object of that name atomically.

        Readers see the old object or the new one, never a mix. If reading ``data`` fails, the
        old object (if any) is untouched and the partial upload is removed.
        """

    @abc.abstractmethod
    def head_object(self, container: NativeRef, name: str) -> ObjectInfo:
        """The object's metadata. Raises ``NotFound`` if there is no such object."""

    @abc.abstractmethod
    def get_object(
        self, container: NativeRef, name: str, offset: int = 0, length: int | None = None
    ) -> tuple[ObjectInfo, ByteStream]:
        """The object's metadata and its content from byte ``offset`` on (at most ``length``
        bytes; None: to the end), in chunks, without reading what comes before ``offset`` (a
        seek, or a ranged request). Raises ``NotFound``."""

    @abc.abstractmethod
    def delete_object(self, container: NativeRef, name: str) -> None:
        """Delete the object; already gone is not an error."""

    @abc.abstractmethod
    def list_objects(
        self, container: NativeRef, prefix: str = "", marker: str = "", limit: int = 10_000
    ) -> list[ObjectInfo]:
        """Objects whose names start with ``prefix`` and sort after ``marker``, in name order,
        at most ``limit``."""
