"""Password and secret hashing (argon2id). Plaintext never leaves this module's callers' hands."""

from __future__ import annotations

import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
# Each argon2 run takes 64 MiB and a core for ~0.1 s. Without a bound, a burst of logins on the
# server's thread pool (40 threads) would take GiBs at once; past the cores it gains no speed.
# This guards a resource of the process, like the hasher itself, so it lives at module level.
_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


def hash_secret(plaintext: str) -> str:
    with _SLOTS:
        return _HASHER.hash(plaintext)


def verify_secret(stored_hash: str | None, plaintext: str) -> bool:
    """True when ``plaintext`` matches; False for a mismatch or a missing/corrupt hash."""
    if not stored_hash:
        # Spend the same effort as a real check so timing does not reveal which users exist.
        hash_secret(plaintext)
        return False
    try:
        with _SLOTS:
            return _HASHER.verify(stored_hash, plaintext)
    except (VerificationError, InvalidHashError):
        return False


def generate_secret(length: int = 24) -> str:
    """A random URL-safe secret, for generated passwords and application credentials."""
    return secrets.token_urlsafe(length)
