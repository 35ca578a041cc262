"""Password hashing: argon2id round trip, the configured cost, and a bound on concurrent
hashing."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from interstack.app import create_app
from interstack.config import ConfigError, RegionConfig, Settings, load_settings
from interstack.services.container import Services
from interstack.services.identity import passwords
from interstack.store.models import User


def test_round_trip_and_mismatch() -> None:
    hasher = passwords.STANDARD
    stored = hasher.hash("s3cret")
    assert stored.startswith("$argon2id$")
    assert "s3cret" not in stored
    assert hasher.verify(stored, "s3cret")
    assert not hasher.verify(stored, "wrong")
    assert not hasher.verify(None, "s3cret")
    assert not hasher.verify("not-a-hash", "s3cret")


def test_new_hashes_take_the_configured_cost_and_any_cost_verifies() -> None:
    # argon2's defaults unless configured: 64 MiB, 3 passes
    assert "$m=65536,t=3," in passwords.STANDARD.hash("s3cret")
    cheap = passwords.SecretHasher(time_cost=1, memory_kib=8192)
    stored = cheap.hash("s3cret")
    assert "$m=8192,t=1," in stored
    # the cost is read from the stored hash: either hasher checks the other's hashes
    assert passwords.STANDARD.verify(stored, "s3cret")
    assert cheap.verify(passwords.STANDARD.hash("s3cret"), "s3cret")
    assert not passwords.STANDARD.verify(stored, "wrong")


def test_a_gateway_hashes_at_its_configured_cost(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        regions=[RegionConfig(name="RegionOne", backend="sim")],
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
    )
    services: Services = create_app(settings).state.services
    with services.db.session() as session:
        bootstrapped = session.scalars(select(User.password_hash)).all()
    assert len(bootstrapped) == 2  # admin and demo
    assert all(stored and "$m=8192,t=1," in stored for stored in bootstrapped)
    # users, logins and application credentials share the gateway's one hasher
    hasher = services.auth.hasher
    assert services.users.hasher is hasher and services.app_credentials.hasher is hasher
    assert "$m=8192,t=1," in hasher.hash("s3cret")


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
    hasher = passwords.SecretHasher()
    monkeypatch.setattr(hasher, "argon2", fake)
    bound = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=bound * 4) as pool:
        list(pool.map(lambda i: hasher.verify("stored", str(i)), range(bound * 8)))
        list(pool.map(lambda i: hasher.verify(None, str(i)), range(bound * 8)))
    assert 1 < fake.peak <= bound


@pytest.mark.parametrize(
    ("setting", "value", "hint"),
    [
        ("password_hash_time_cost", 0, "argon2's default (3)"),
        ("password_hash_time_cost", 1000, "argon2's default (3)"),
        ("password_hash_memory_kib", 0, "argon2's default (65536 KiB"),
        ("password_hash_memory_kib", 1024, "not bytes or MiB"),
        ("password_hash_memory_kib", 64 * 1024 * 1024, "not bytes or MiB"),
    ],
)
def test_the_config_refuses_an_unsafe_cost_saying_what_to_set(
    setting: str, value: int, hint: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(None, **{setting: value})
    message = str(refused.value)
    assert message.startswith(f"invalid setting {setting}: ") and str(value) in message
    assert hint in message
    defaults = load_settings()
    assert (defaults.password_hash_time_cost, defaults.password_hash_memory_kib) == (3, 65536)


def test_a_cost_below_argon2s_own_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    regions = [RegionConfig(name="RegionOne", backend="sim")]
    create_app(Settings(data_dir=tmp_path / "default", regions=regions))
    assert "below argon2's defaults" not in caplog.text
    create_app(Settings(data_dir=tmp_path / "cheap", regions=regions, password_hash_time_cost=1))
    assert "1 argon2 passes over 65536 KiB, below argon2's defaults" in caplog.text


def test_a_generated_secret_never_begins_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI reads ``--os-password -abc`` as an option: such a secret is drawn again."""
    drawn = iter(["-starts-like-an-option", "_fine", "never-reached"])
    monkeypatch.setattr("secrets.token_urlsafe", lambda length: next(drawn))
    assert passwords.generate_secret() == "_fine"
