"""Object bytes on their way to the client: the backend's chunks are read in a worker thread a
batch at a time, so a large download costs one thread hop per MiB rather than per chunk."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from starlette.concurrency import run_in_threadpool

BATCH_BYTES = 1024 * 1024


def _take(chunks: Iterator[bytes], limit: int) -> list[bytes]:
    taken: list[bytes] = []
    size = 0
    for chunk in chunks:
        taken.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return taken


async def in_batches(chunks: Iterator[bytes], limit: int = BATCH_BYTES) -> AsyncIterator[bytes]:
    """The chunks, at most about ``limit`` bytes held at once; the source is closed however the
    response ends (a client that hangs up included)."""
    try:
        while batch := await run_in_threadpool(_take, chunks, limit):
            for chunk in batch:
                yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
