"""Subunit v2 streams written with python-subunit, as ``tempest run --subunit`` writes them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import subunit

START = datetime(2026, 1, 1, tzinfo=UTC)


class StreamWriter:
    """Writes test outcomes into a subunit v2 byte stream, one second per test."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()
        self._out = subunit.StreamResultToBytes(self.buffer)
        self._clock = START

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=1)
        return self._clock

    def test(self, test_id: str, status: str, reason: str = "") -> StreamWriter:
        self._out.status(test_id=test_id, test_status="inprogress", timestamp=self._tick())
        if reason:
            name = "reason" if status == "skip" else "traceback"
            self._out.status(
                test_id=test_id,
                file_name=name,
                file_bytes=reason.encode(),
                mime_type="text/plain; charset=utf8",
                eof=True,
            )
        self._out.status(test_id=test_id, test_status=status, timestamp=self._tick())
        return self

    def started(self, test_id: str) -> StreamWriter:
        """A test that began and never ended (the run was interrupted)."""
        self._out.status(test_id=test_id, test_status="inprogress", timestamp=self._tick())
        return self

    def noise(self, text: bytes) -> StreamWriter:
        """Non-subunit bytes, as a test's stray print to stdout ends up in the stream."""
        self.buffer.write(text)
        return self

    def bytes(self) -> bytes:
        return self.buffer.getvalue()
