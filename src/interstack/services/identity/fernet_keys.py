"""A Fernet key repository on disk, rotated the way Keystone rotates its keys.

Files in the directory are named by integers. ``0`` is the *staged* key (known to every replica
before it is used), the highest number is the *primary* key (encrypts new tokens), the others are
*secondary* keys (only decrypt). Rotation promotes the staged key to primary, writes a new
staged key and drops the oldest secondary keys beyond ``max_active``. A token stays valid across
a rotation as long as the key that encrypted it is still in the repository.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet


class KeyRepository:
    """Loads keys from ``directory`` and reloads them when the directory changes."""

    def __init__(self, directory: Path, max_active: int = 3) -> None:
        if max_active < 2:
            raise ValueError("max_active must be at least 2 (a staged and a primary key)")
        self.directory = directory
        self.max_active = max_active
        self._lock = threading.Lock()
        self._signature: tuple[float, int] | None = None
        self._checked_at = 0.0
        self._fernet: MultiFernet | None = None

    def initialize(self) -> None:
        """Create the repository with a staged and a primary key if it has none."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        if not self._key_numbers():
            self._write_key(0)
            self._write_key(1)

    def rotate(self) -> int:
        """Promote the staged key, stage a new one, prune old ones; return the new primary."""
        self.initialize()
        numbers = self._key_numbers()
        new_primary = max(numbers) + 1
        os.replace(self.directory / "0", self.directory / str(new_primary))
        self._write_key(0)
        secondaries = sorted(n for n in self._key_numbers() if n not in (0, new_primary))
        excess = len(secondaries) + 2 - self.max_active
        for number in secondaries[: max(excess, 0)]:
            (self.directory / str(number)).unlink()
        self._signature = None
        return new_primary

    def fernet(self) -> MultiFernet:
        """The current keys: primary first (encrypts), then the rest (decrypt)."""
        now = time.monotonic()
        if self._fernet is not None and now - self._checked_at < 1.0:
            return self._fernet
        with self._lock:
            signature = self._directory_signature()
            if self._fernet is None or signature != self._signature:
                self._fernet = self._load()
                self._signature = signature
            self._checked_at = now
            return self._fernet

    def _load(self) -> MultiFernet:
        numbers = sorted(self._key_numbers(), reverse=True)
        if not numbers:
            raise RuntimeError(f"no Fernet keys in {self.directory}; run 'interstack keys rotate'")
        keys = [Fernet((self.directory / str(n)).read_bytes().strip()) for n in numbers]
        return MultiFernet(keys)

    def _directory_signature(self) -> tuple[float, int]:
        stat = self.directory.stat()
        return (stat.st_mtime, len(self._key_numbers()))

    def _key_numbers(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return [int(p.name) for p in self.directory.iterdir() if p.name.isdigit()]

    def _write_key(self, number: int) -> None:
        temporary = self.directory / f".{number}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        os.replace(temporary, self.directory / str(number))
