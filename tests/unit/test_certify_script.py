"""``make certify``'s local region queues for the host's networking lock (scripts/demo.py's
region_config): a sibling checkout's gateway or tests may hold it for minutes."""

from __future__ import annotations

import json
from pathlib import Path

from interstack.backends.local.settings import LocalSettings
from tests.support.scripts import script_module


def _region_settings(config: Path) -> dict[str, object]:
    regions = json.loads(config.read_text())["regions"]
    settings: dict[str, object] = regions[0]["settings"]
    return settings


def test_local_region_config_waits_for_the_network_lock(tmp_path: Path) -> None:
    region_config = script_module("demo").region_config
    waiting = LocalSettings.parse(
        "RegionOne", _region_settings(region_config(tmp_path, "local", lock_wait=1500))
    )
    assert waiting.network_lock_wait_seconds == 1500
    default = LocalSettings.parse("RegionOne", _region_settings(region_config(tmp_path, "local")))
    assert (
        default.network_lock_wait_seconds
        == LocalSettings.model_fields["network_lock_wait_seconds"].default
    )
