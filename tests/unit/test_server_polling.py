"""A server task looks at a backend that is still changing as often as the backend declares
(``Backend.polling``): a cloud that is slow and throttles (EC2) is asked seldom, an emulator or a
local hypervisor often."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from interstack.backends.contract import Polling
from interstack.services.compute.server_tasks import BOOT
from interstack.services.container import Services
from tests.support.compute import add_server, declare_polling, running_task, waits_of
from tests.support.image import started_services

REGION = "RegionOne"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    # a boot that does not settle while the test looks
    with started_services(tmp_path / "data", sim={"boot_delay_seconds": 600}) as started:
        yield started


def test_a_booting_server_is_looked_at_as_its_backend_declares(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = Polling(first_seconds=0.1, ceiling_seconds=3.0)
    declare_polling(monkeypatch, services.regions.backend(REGION), declared)
    running = running_task(BOOT, add_server(services.db, "p1", 1, 512, "building"))
    waits = waits_of(services.compute.server_tasks.boot, running, 8)
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 3.0, 3.0, 3.0]


def test_the_default_polling_stays_fast() -> None:
    """An emulator or a local cloud is asked again within half a second."""
    assert [Polling().delay(looks) for looks in range(7)] == [
        0.025,
        0.05,
        0.1,
        0.2,
        0.4,
        0.5,
        0.5,
    ]
