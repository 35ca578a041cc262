"""Fixtures shared by the API tests of several services."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import Member, member_of
from tests.support.network import neutron, neutron_of

LIMITED = "sim-limited"
#: a cloud that assigns floating IP addresses itself (as EC2 does its Elastic IPs)
ASSIGNING = "sim-assigning"


@pytest.fixture(scope="session")
def regions_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """Three sim regions: RegionOne, one without security groups and floating IPs, and one
    that assigns floating IP addresses itself."""
    data: Path = tmp_path_factory.mktemp("regions") / "data"
    config = {
        "regions": [
            {"name": "RegionOne", "backend": "sim"},
            {
                "name": LIMITED,
                "backend": "sim",
                "settings": {"without": ["security_groups", "floating_ips"]},
            },
            {
                "name": ASSIGNING,
                "backend": "sim",
                "settings": {"without": ["floating_ip_choice"], "floating_ip_cidr": "192.0.2.0/24"},
            },
        ]
    }
    with ServedGateway(data, config=config) as served:
        yield served


@pytest.fixture(scope="module")
def strangers_gateway(gateway: ServedGateway) -> ServedGateway:
    """The gateway ``stranger`` is made on: the module's ``gateway`` here; a folder whose tests
    share a gateway of their own says which (tests/api/servers)."""
    return gateway


@pytest.fixture(scope="module")
def stranger(strangers_gateway: ServedGateway) -> Member:
    """A member of a project of its own on the module's gateway, with access to nothing
    private: another project than the one a test works in."""
    return member_of(strangers_gateway)


@pytest.fixture(scope="module")
def strangers_neutron(strangers_gateway: ServedGateway, stranger: Member) -> Iterator[httpx.Client]:
    """The stranger's Neutron client: another project's, to plant its ports and networks."""
    with neutron_of(strangers_gateway, stranger) as api:
        yield api


@pytest.fixture(scope="module")
def neutron_admin(gateway: ServedGateway, admin_token: str) -> Iterator[httpx.Client]:
    """The cloud admin's Neutron client on the module's gateway."""
    with neutron(gateway, admin_token) as api:
        yield api


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[ServedGateway]:
    """A started gateway of the test's own, for a test that restarts it or changes its store
    behind its back (``fresh_gateway`` is one the test starts itself)."""
    with ServedGateway(tmp_path / "data") as served:
        yield served
