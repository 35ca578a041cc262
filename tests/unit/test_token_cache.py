"""The validated-token cache: ttl, token expiry, bound, and the clear-during-validation race."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from interstack.services.identity.token_cache import TokenCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


LATER = datetime.now(UTC) + timedelta(hours=1)


def test_hit_until_ttl() -> None:
    clock = FakeClock()
    cache: TokenCache[str] = TokenCache(ttl=2.0, clock=clock)
    cache.put("t", LATER, "info", cache.generation())
    assert cache.get("t") == "info"
    clock.now += 2.5
    assert cache.get("t") is None


def test_expired_token_is_never_served() -> None:
    cache: TokenCache[str] = TokenCache(ttl=60.0)
    cache.put("t", datetime.now(UTC) - timedelta(seconds=1), "info", cache.generation())
    assert cache.get("t") is None


def test_clear_wins_over_a_validation_that_started_before_it() -> None:
    cache: TokenCache[str] = TokenCache(ttl=60.0)
    generation = cache.generation()
    cache.clear()  # a revocation lands while the validation is still running
    cache.put("t", LATER, "stale", generation)
    assert cache.get("t") is None


def test_bounded_least_recently_used_goes_first() -> None:
    cache: TokenCache[int] = TokenCache(ttl=60.0, max_entries=2)
    generation = cache.generation()
    cache.put("a", LATER, 1, generation)
    cache.put("b", LATER, 2, generation)
    assert cache.get("a") == 1
    cache.put("c", LATER, 3, generation)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_zero_ttl_disables() -> None:
    cache: TokenCache[str] = TokenCache(ttl=0)
    cache.put("t", LATER, "info", cache.generation())
    assert cache.get("t") is None
    assert len(cache) == 0
