"""The local backend's boot watch tells the gateway of a boot that settled, once, and only
after the cheap look says something changed."""

from __future__ import annotations

import os
import subprocess
import threading

from interstack.backends.local.bootwatch import BootWatch
from tests.support.waiting import eventually


class Instances:
    """Stand-ins for the driver's observe and init-pid lookups, counting the observations."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid
        self.booting = True
        self.observed = 0
        self.settled: list[str] = []
        self.lock = threading.Lock()

    def observe(self, ref: str) -> bool:
        with self.lock:
            self.observed += 1
            return self.booting

    def init_pid(self, ref: str) -> int | None:
        return self.pid

    def told(self, ref: str) -> None:
        self.settled.append(ref)


def test_a_guest_that_is_neither_up_nor_gone_is_not_observed() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])  # a live PID whose root has no ready marker
    try:
        instances = Instances(sleeper.pid)
        watch = BootWatch(instances.observe, instances.init_pid, instances.told)
        watch.start()
        watch.add("ls-a")
        try:
            threading.Event().wait(0.3)
            assert instances.observed == 0
            assert instances.settled == []
        finally:
            watch.close()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_guest_whose_init_is_gone_is_observed_and_the_gateway_told_once() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert not os.path.exists(f"/proc/{gone.pid}")
    instances = Instances(gone.pid)
    instances.booting = False  # the driver's observation moved it on (ERROR here)
    watch = BootWatch(instances.observe, instances.init_pid, instances.told)
    watch.start()
    try:
        watch.add("ls-b")
        assert eventually(lambda: instances.settled, bool, "the gateway to be told") == ["ls-b"]
        threading.Event().wait(0.2)
        assert instances.settled == ["ls-b"]  # no longer watched
    finally:
        watch.close()


def test_an_instance_without_a_known_pid_is_observed_until_it_settles() -> None:
    instances = Instances(None)
    watch = BootWatch(instances.observe, instances.init_pid, instances.told)
    watch.start()
    try:
        watch.add("ls-c")
        eventually(lambda: instances.observed >= 2, bool, "repeated observations")
        assert instances.settled == []
        instances.booting = False
        assert eventually(lambda: instances.settled, bool, "the gateway to be told") == ["ls-c"]
    finally:
        watch.close()


def test_an_instance_without_a_known_pid_is_not_observed_at_every_look() -> None:
    instances = Instances(None)  # each observation may run runc: not every 20 ms
    watch = BootWatch(instances.observe, instances.init_pid, instances.told)
    watch.start()
    try:
        watch.add("ls-d")
        eventually(lambda: instances.observed >= 1, bool, "a first observation")
        threading.Event().wait(0.3)
        assert instances.observed == 1
    finally:
        watch.close()


def test_a_boot_added_again_while_the_last_one_settles_stays_watched() -> None:
    instances = Instances(None)

    def observe(ref: str) -> bool:
        first = instances.observed == 0
        instances.observe(ref)
        if first:
            watch.add(ref)  # a reboot: the next boot starts as this one is seen settled
        return not first

    watch = BootWatch(observe, instances.init_pid, instances.told)
    watch.start()
    try:
        watch.add("ls-e")
        assert eventually(lambda: instances.settled, bool, "the first boot to settle") == ["ls-e"]
        eventually(lambda: instances.observed >= 2, bool, "the next boot observed")
    finally:
        watch.close()
