"""Password and secret hashing (argon2id). Plaintext never leaves this module's callers' hands."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


def hash_secret(plaintext: str) -> str:
    return _HASHER.hash(plaintext)


def verify_secret(stored_hash: str | None, plaintext: str) -> bool:
    """True when ``plaintext`` matches; False for a mismatch or a missing/corrupt hash."""
    if not stored_hash:
        # Spend the same effort as a real check so timing does not reveal which users exist.
        _HASHER.hash(plaintext)
        return False
    try:
        return _HASHER.verify(stored_hash, plaintext)
    except (VerificationError, InvalidHashError):
        return False


def generate_secret(length: int = 24) -> str:
    """A random URL-safe secret, for generated passwords and application credentials."""
    return secrets.token_urlsafe(length)
