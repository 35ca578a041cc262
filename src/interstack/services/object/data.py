"""Bytes in motion: uploads counted, hashed and bounded as they stream; objects opened for
reading; ranges cut from streams."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator

from interstack.backends.contract import ByteStream
from interstack.errors import InterstackError
from interstack.services.object.model import ObjectView


class MeasuredUpload:
    """Passes an upload's chunks on while counting and hashing them.

    Raises ``too_large()`` as soon as more than ``limit`` bytes arrived, so an oversize upload
    stops at once and the backend removes what it wrote.
    """

    def __init__(
        self, chunks: Iterable[bytes], limit: int, too_large: Callable[[], InterstackError]
    ) -> None:
        self._chunks = chunks
        self._limit = limit
        self._too_large = too_large
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self._limit:
                raise self._too_large()
            self._md5.update(chunk)
            yield chunk

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()


def cut(stream: ByteStream, start: int, stop: int) -> Iterator[bytes]:
    """Bytes ``[start, stop)`` of a stream, which is closed however the caller stops."""
    position = 0
    try:
        for chunk in stream:
            end = position + len(chunk)
            if end > start:
                yield chunk[max(0, start - position) : min(len(chunk), stop - position)]
            position = end
            if position >= stop:
                break
    finally:
        stream.close()


class ObjectReader:
    """An object opened for reading: what clients see of it, and its bytes in any range."""

    def __init__(
        self,
        view: ObjectView,
        read: Callable[[int, int], Iterator[bytes]],
        segment_containers: frozenset[str] = frozenset(),
    ) -> None:
        self.view = view
        self._read = read
        #: the containers a large object's segments are read from
        self.segment_containers = segment_containers

    def chunks(self, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, stop)``, streamed; the backend streams close when this one does."""
        return self._read(start, self.view.size if stop is None else stop)
