"""Password and secret hashing (argon2id). Plaintext never leaves this module's callers' hands."""

from __future__ import annotations

import os
import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from interstack.config import DEFAULT_PASSWORD_HASH_MEMORY_KIB, DEFAULT_PASSWORD_HASH_TIME_COST

# Each argon2 run takes its memory and a core for ~0.1 s. Without a bound, a burst of logins on the
# server's thread pool (40 threads) would take GiBs at once; past the cores it gains no speed.
# This guards a resource of the process, like the hasher itself, so it lives at module level.
_SLOTS = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


class SecretHasher:
    """Hashes new secrets at the configured cost (Keystone's ``password_hash_rounds`` in spirit);
    a stored hash carries its own cost, so secrets hashed at another cost keep verifying."""

    def __init__(
        self,
        time_cost: int = DEFAULT_PASSWORD_HASH_TIME_COST,
        memory_kib: int = DEFAULT_PASSWORD_HASH_MEMORY_KIB,
    ) -> None:
        self.argon2 = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)

    def hash(self, plaintext: str) -> str:
        with _SLOTS:
            return self.argon2.hash(plaintext)

    def verify(self, stored_hash: str | None, plaintext: str) -> bool:
        """True when ``plaintext`` matches; False for a mismatch or a missing/corrupt hash."""
        if not stored_hash:
            # Spend the same effort as a real check so timing does not reveal which users exist.
            self.hash(plaintext)
            return False
        try:
            with _SLOTS:
                return self.argon2.verify(stored_hash, plaintext)
        except (VerificationError, InvalidHashError):
            return False


#: the hasher of services built without one (argon2's default cost)
STANDARD = SecretHasher()


def generate_secret(length: int = 24) -> str:
    """A random URL-safe secret, for generated passwords and application credentials.

    Never one that begins with '-': a command line reads ``--os-password -x…`` as an option
    (the swift and openstack CLIs stop with a usage error), one secret in 64 otherwise."""
    while True:
        secret = secrets.token_urlsafe(length)
        if not secret.startswith("-"):
            return secret
