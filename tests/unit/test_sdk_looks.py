"""The tests' shorter client waits (tests/support/sdk_looks.py) change only the sleep between
two looks: a wait still ends at its timeout, still fails on an error status, and a wait value
the client refuses is still the client's own refusal — so a failing wait under test still
fails as the real client's does. The CLI's Python loads them by sitecustomize."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from types import SimpleNamespace

import openstack.utils
import osc_lib.utils
import pytest
from openstack import exceptions

from tests.support.gateway import CLIENT_PYTHON
from tests.support.sdk_looks import LOOK_SECONDS, shortened, shortened_sleeps


class FakeClock:
    """time.time and time.sleep of a module, sleeping on a clock of its own."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    monkeypatch.setattr(openstack.utils, "time", fake)
    monkeypatch.setattr(osc_lib.utils, "time", fake)
    yield fake


def test_an_sdk_wait_sleeps_less_and_still_times_out_at_its_timeout(clock: FakeClock) -> None:
    looks = shortened(openstack.utils.iterate_timeout)
    with pytest.raises(exceptions.ResourceTimeout, match="never"):
        for _ in looks(10, "never", wait=5):
            pass
    assert set(clock.sleeps) == {LOOK_SECONDS}
    assert sum(clock.sleeps) == pytest.approx(10, abs=LOOK_SECONDS)


def test_a_shorter_wait_asked_and_a_refused_one_are_the_clients_own(clock: FakeClock) -> None:
    looks = shortened(openstack.utils.iterate_timeout)
    first = looks(1, "m", wait=0.05)
    next(first)
    next(first)
    assert clock.sleeps == [0.05]
    with pytest.raises(exceptions.SDKException, match="Wait value must be an int or float"):
        next(looks(1, "m", wait="soon"))


def test_a_cli_wait_sleeps_less_and_still_fails_on_an_error_status(clock: FakeClock) -> None:
    statuses = iter(["build", "build", "error"])
    wait_for_status = shortened_sleeps(osc_lib.utils.wait_for_status)
    with pytest.warns(DeprecationWarning):
        done = wait_for_status(lambda _: SimpleNamespace(status=next(statuses)), "s")
    assert done is False
    assert clock.sleeps == [LOOK_SECONDS, LOOK_SECONDS]


def test_the_clients_python_takes_the_shorter_waits_only_by_the_tests_path() -> None:
    script = (
        "import openstack.utils, osc_lib.utils;"
        "print(openstack.utils.iterate_timeout.__qualname__,"
        " hasattr(osc_lib.utils.wait_for_status, '__wrapped__'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    plain = _run_python(script, env)
    assert plain.stdout.split() == ["iterate_timeout", "False"], plain.stderr
    short = _run_python(script, {**env, "PYTHONPATH": str(CLIENT_PYTHON)})
    assert short.stdout.split() == ["shortened.<locals>.looks", "True"], short.stderr


def _run_python(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
