"""The instance type a server's flavor runs on: the one it names, and for a server booted
before an aws region's flavors were its instance types (its stored flavor a shared m1.*), the
type it was booted on — its rebuild and resize revert must not fail for a flavor the API no
longer offers there."""

from __future__ import annotations

import pytest

from interstack.backends.contract import FlavorSpec
from interstack.errors import BadRequest
from tests.backends.aws.support import moto_drivers, server_spec
from tests.support.moto import ec2

#: the flavor m1.tiny as servers booted with it before keep it (1 vCPU, 512 MB, 1 GB)
OLD_TINY = FlavorSpec(vcpus=1, ram_mb=512, disk_gb=1, name="m1.tiny")


def test_a_named_type_is_that_type() -> None:
    with moto_drivers() as (_, compute, _client):
        micro = FlavorSpec(vcpus=2, ram_mb=1024, disk_gb=0, name="t3.micro")
        assert compute.instance_types.for_flavor(micro).name == "t3.micro"


def test_an_old_servers_shared_flavor_boots_again_on_the_smallest_type_holding_it() -> None:
    with moto_drivers() as (_, compute, _client):
        assert compute.instance_types.for_flavor(OLD_TINY).name == "t3.nano"
        info = compute.create_server(server_spec(flavor=OLD_TINY))  # a rebuild's boot
        (reservation,) = ec2().describe_instances(InstanceIds=[info.ref])["Reservations"]
        assert reservation["Instances"][0]["InstanceType"] == "t3.nano"


def test_a_flavor_no_type_holds_is_refused_naming_the_types() -> None:
    with moto_drivers() as (_, compute, _client):
        huge = FlavorSpec(vcpus=64, ram_mb=1 << 20, disk_gb=1, name="m1.huge")
        with pytest.raises(BadRequest, match=r"its flavors are t3\.nano, t3\.micro"):
            compute.instance_types.for_flavor(huge)
