"""With no regions configured, RegionOne is the local backend where the host can run it, else
the simulated cloud with the reason logged."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from interstack.app import effective_regions
from interstack.backends.local.host import unavailable_reason
from interstack.config import RegionConfig, Settings


def test_the_default_region_is_local_when_the_host_can_run_it(tmp_path: Path) -> None:
    regions = effective_regions(Settings(data_dir=tmp_path), lambda: None)
    assert [(r.name, r.backend) for r in regions] == [("RegionOne", "local")]


def test_the_default_region_is_sim_with_the_reason_logged_when_it_cannot(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="interstack.app"):
        regions = effective_regions(Settings(data_dir=tmp_path), lambda: "instances need root")
    assert [(r.name, r.backend) for r in regions] == [("RegionOne", "sim")]
    assert [r.getMessage() for r in caplog.records] == [
        "region RegionOne simulates its cloud (backend sim): instances need root"
    ]


def test_on_this_host_the_default_follows_the_host_check(tmp_path: Path) -> None:
    reason = unavailable_reason()
    [region] = effective_regions(Settings(data_dir=tmp_path))
    assert region.backend == ("local" if reason is None else "sim"), reason


def test_configured_regions_are_kept_as_they_are(tmp_path: Path) -> None:
    configured = [RegionConfig(name="west", backend="sim")]
    never_asked = lambda: pytest.fail("the host check ran although regions are configured")  # noqa: E731
    assert effective_regions(Settings(data_dir=tmp_path, regions=configured), never_asked) == (
        configured
    )
