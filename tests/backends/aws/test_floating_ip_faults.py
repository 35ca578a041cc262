"""An Elastic IP that is gone is a ``NotFound`` whose message names EC2's error code (the
fault a client sees tells which AWS answer it stands for); releasing one that is gone is done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from interstack.backends.aws.network import AwsNetwork
from interstack.backends.contract import NativeRef
from interstack.errors import NotFound
from tests.backends.aws.support import moto_drivers, new_id, refuse_once
from tests.support.moto import ec2


@pytest.fixture
def network() -> Iterator[tuple[AwsNetwork, Any]]:
    with moto_drivers() as (network, _compute, client):
        yield network, client


def test_a_released_elastic_ip_is_not_found_with_ec2s_code(network: tuple[AwsNetwork, Any]) -> None:
    driver, _client = network
    made = driver.allocate_floating_ip(new_id())
    ec2().release_address(AllocationId=made.ref)
    with pytest.raises(NotFound, match=r"InvalidAllocationID\.NotFound"):
        driver.associate_floating_ip(made.ref, None)
    driver.release_floating_ip(made.ref)  # already gone: done


def test_an_allocation_id_ec2_refuses_keeps_its_code(network: tuple[AwsNetwork, Any]) -> None:
    driver, client = network
    refuse_once(client, "DescribeAddresses", "InvalidAllocationID.Malformed", "bad id", 400)
    with pytest.raises(NotFound, match=r"InvalidAllocationID\.Malformed: bad id"):
        driver.associate_floating_ip(NativeRef("eipalloc-nonsense"), None)
