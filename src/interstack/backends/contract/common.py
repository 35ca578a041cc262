"""Types shared by every driver of the contract."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NewType, Protocol

#: A backend's own handle for a resource. Opaque to the services layer, which only stores it.
NativeRef = NewType("NativeRef", str)


class ByteStream(Protocol):
    """Data read from a backend, in chunks. The caller iterates it once and then closes it.

    A generator function satisfies this protocol; ``close()`` releases the file or connection
    even when the caller stops early (a client that hung up mid-download).
    """

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...
