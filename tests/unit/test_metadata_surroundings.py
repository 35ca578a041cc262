"""The surroundings the metadata service reuses within a guest's crawl: only for the server
and keypair they were read for, and only for a few seconds."""

from __future__ import annotations

from interstack.services.metadata.records import InstanceKey
from interstack.services.metadata.surroundings import Stamp, Surroundings, SurroundingsCache

KEY = InstanceKey(name="k", type="ssh", public_key="ssh-ed25519 AAAA k")
STAMP: Stamp = ("RegionOne", "server-1", "user-1", "k", KEY.public_key)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def surroundings(tag: str) -> Surroundings:
    return Surroundings(key=InstanceKey(name=tag, type="ssh", public_key=tag), ports=(), disks=())


def test_kept_for_the_same_stamp_until_the_seconds_pass() -> None:
    clock = Clock()
    cache = SurroundingsCache(seconds=10, clock=clock)
    kept = surroundings("a")
    cache.put(STAMP, kept)
    clock.now += 9.9
    assert cache.get(STAMP) is kept
    clock.now += 0.1
    assert cache.get(STAMP) is None
    assert cache.get(STAMP) is None  # dropped, not revived by a later clock


def test_another_server_or_region_never_gets_them() -> None:
    cache = SurroundingsCache(seconds=10, clock=Clock())
    cache.put(STAMP, surroundings("a"))
    assert cache.get(("RegionOne", "server-2", *STAMP[2:])) is None
    assert cache.get(("RegionTwo", *STAMP[1:])) is None


def test_another_keypair_on_the_same_server_reads_them_again() -> None:
    """A rebuild with another key (or none, or another user's key of that name) is a miss."""
    cache = SurroundingsCache(seconds=10, clock=Clock())
    cache.put(STAMP, surroundings("a"))
    for other in (
        (*STAMP[:4], "ssh-ed25519 BBBB k"),
        (*STAMP[:3], "other", STAMP[4]),
        (*STAMP[:3], None, None),
        (*STAMP[:2], "user-2", *STAMP[3:]),
    ):
        assert cache.get(other) is None
        cache.put(STAMP, surroundings("a"))


def test_expired_and_the_oldest_entries_go() -> None:
    clock = Clock()
    cache = SurroundingsCache(seconds=10, clock=clock, max_entries=2)
    stamps = [("RegionOne", f"server-{n}", "user-1", None, None) for n in range(3)]
    for stamp in stamps:
        cache.put(stamp, surroundings(stamp[1]))
        clock.now += 1
    assert cache.get(stamps[0]) is None  # over max_entries: the oldest went
    assert cache.get(stamps[1]) is not None and cache.get(stamps[2]) is not None
    clock.now += 9
    fresh: Stamp = ("RegionOne", "server-9", "user-1", None, None)
    cache.put(fresh, surroundings("fresh"))
    assert len(cache) == 1  # the expired ones went with the put
    assert cache.get(fresh) is not None
