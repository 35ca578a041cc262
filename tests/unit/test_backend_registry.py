"""Backends load by entry point, loudly: every failure names the backend and the region."""

from __future__ import annotations

import importlib.metadata
from dataclasses import replace
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from interstack.backends import registry
from interstack.backends.contract import Backend, BackendContext
from interstack.backends.registry import BackendLoadError, available_backends, load_backend
from interstack.backends.sim import SimBackend
from interstack.config import ConfigError
from interstack.errors import InterstackError
from interstack.store import Database


class Incomplete(Backend):
    """Lacks every driver: the contract's abstract methods must refuse to build it."""

    def start(self) -> None: ...

    def close(self) -> None: ...


@pytest.fixture
def extra_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = [
        EntryPoint("broken", "interstack_no_such_module:Backend", registry.ENTRY_POINT_GROUP),
        EntryPoint("notabackend", "pathlib:Path", registry.ENTRY_POINT_GROUP),
        EntryPoint("incomplete", f"{__name__}:Incomplete", registry.ENTRY_POINT_GROUP),
    ]
    real = importlib.metadata.entry_points

    def entry_points(**params: Any) -> list[EntryPoint]:
        found = [ep for ep in fakes if all(getattr(ep, k) == v for k, v in params.items())]
        return [*real(**params), *found]

    monkeypatch.setattr(registry, "entry_points", entry_points)


def test_sim_is_installed_and_loads(db: Database, tmp_path: Path) -> None:
    assert "sim" in available_backends()
    backend = load_backend("sim", "RegionOne", {}, data_dir=tmp_path, db=db)
    assert isinstance(backend, SimBackend)
    assert backend.region == "RegionOne"
    assert backend.capabilities.compute


@pytest.mark.usefixtures("extra_entry_points")
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("nimbus", "unknown backend 'nimbus'"),
        ("broken", "failed to import: ModuleNotFoundError"),
        ("notabackend", "is not an interstack.backends.contract.Backend subclass"),
        ("incomplete", "cannot be built: TypeError"),
    ],
)
def test_a_backend_that_cannot_load_is_a_config_error_naming_it(
    db: Database, tmp_path: Path, name: str, says: str
) -> None:
    with pytest.raises(BackendLoadError) as caught:
        load_backend(name, "west-1", {}, data_dir=tmp_path, db=db)
    assert isinstance(caught.value, InterstackError)
    assert caught.value.message.startswith("region west-1: ")
    assert says in caught.value.message


def test_bad_sim_settings_name_the_region_and_the_setting(db: Database, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_backend("sim", "west-1", {"boot_delay_second": 1}, data_dir=tmp_path, db=db)
    assert "region west-1" in caught.value.message
    assert "boot_delay_second" in caught.value.message


def test_sim_capabilities_can_be_turned_off(tmp_path: Path, db: Database) -> None:
    backend = SimBackend(
        BackendContext(region="r", settings={"without": ["pause"]}, data_dir=tmp_path, db=db)
    )
    assert not backend.capabilities.pause
    assert backend.capabilities.suspend


@pytest.mark.parametrize(
    ("external", "says"),
    [({"cidr": "198.51.100.7/24"}, "not a network address"), ({"cidr": "10.0.0.0/30"}, "small")],
)
def test_a_bad_sim_external_network_names_the_setting(
    db: Database, tmp_path: Path, external: dict[str, str], says: str
) -> None:
    settings = {"external_network": external}
    with pytest.raises(ConfigError) as caught:
        load_backend("sim", "west-1", settings, data_dir=tmp_path, db=db)
    assert "region west-1" in caught.value.message
    assert "external_network.cidr" in caught.value.message and says in caught.value.message


def test_the_sim_external_network_leaves_its_gateway_out_of_the_pool(
    tmp_path: Path, db: Database
) -> None:
    context = BackendContext(region="r", settings={}, data_dir=tmp_path, db=db)
    assert SimBackend(context).network.external_network() is None
    configured = {"external_network": {"name": "ext", "cidr": "192.0.2.0/28"}}
    spec = SimBackend(replace(context, settings=configured)).network.external_network()
    assert spec is not None and (spec.name, spec.cidr) == ("ext", "192.0.2.0/28")
    assert spec.gateway_ip == "192.0.2.1"
    assert spec.allocation_pool == ("192.0.2.2", "192.0.2.14")
