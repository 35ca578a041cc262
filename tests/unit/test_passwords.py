"""Password hashing: argon2id round trip, and a bound on concurrent hashing."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from interstack.services.identity import passwords


def test_round_trip_and_mismatch() -> None:
    stored = passwords.hash_secret("s3cret")
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored
    assert passwords.verify_secret(stored, "s3cret")
    assert not passwords.verify_secret(stored, "wrong")
    assert not passwords.verify_secret(None, "s3cret")
    assert not passwords.verify_secret("not-a-hash", "s3cret")


class _CountingHasher:
    """Stands in for argon2 and records how many hashes ran at the same time."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def _run(self) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.02)  # long enough for the threads to overlap
        with self.lock:
            self.active -= 1

    def hash(self, plaintext: str) -> str:
        self._run()
        return "hashed"

    def verify(self, stored: str, plaintext: str) -> bool:
        self._run()
        return True


def test_concurrent_hashing_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _CountingHasher()
    monkeypatch.setattr(passwords, "_HASHER", fake)
    bound = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=bound * 4) as pool:
        list(pool.map(lambda i: passwords.verify_secret("stored", str(i)), range(bound * 8)))
        list(pool.map(lambda i: passwords.verify_secret(None, str(i)), range(bound * 8)))
    assert 1 < fake.peak <= bound
