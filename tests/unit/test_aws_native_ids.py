"""EC2 ids out of fault texts (backends/aws/native_ids): the words a fault says instead."""

from __future__ import annotations

import pytest

from interstack.backends.aws.native_ids import NativeIdsHidden, without_native_ids
from interstack.errors import NotFound


@pytest.mark.parametrize(
    ("native", "shown"),
    [
        ("AMI ami-0123456789abcdef0 does not exist in us-east-1",
         "the image does not exist in us-east-1"),
        ("server i-0123456789abcdef0 does not exist in AWS", "the instance does not exist in AWS"),
        ("AWS refused delete_volume vol-0123abcd: VolumeInUse",
         "AWS refused delete_volume the volume: VolumeInUse"),
        ("The subnet ID 'subnet-0123abcd' does not exist",
         "The subnet ID 'the subnet' does not exist"),
        ("AWS refused attach_network_interface eni-0123456789abcdef0 to i-0123abcd: X",
         "AWS refused attach_network_interface the network interface to the instance: X"),
        ("disassociate_vpc_cidr_block 10.0.0.0/16 from vpc-0123abcd",
         "disassociate_vpc_cidr_block 10.0.0.0/16 from the VPC"),
        ("release eipalloc-0123abcd, group sg-0123abcd, snapshot snap-0123abcd",
         "release the elastic IP, group the security group, the snapshot"),
        # not EC2 ids: a server's name with a hex suffix, a gateway UUID
        ("server lost-ami-24aa1e6839 of 5f0e4d4c-7a53-4c8b-9d0b-6f1c2e3a4b5c", None),
    ],
)  # fmt: skip
def test_a_fault_says_a_word_for_each_ec2_id(native: str, shown: str | None) -> None:
    assert without_native_ids(native) == (native if shown is None else shown)


class _Driver:
    def refuse(self) -> None:
        raise NotFound("AWS refused describe_instances i-0123abcd: InvalidInstanceID.NotFound")


def test_a_drivers_error_leaves_without_ec2_ids_and_with_the_code() -> None:
    with pytest.raises(NotFound) as raised:
        NativeIdsHidden(_Driver()).refuse()
    assert raised.value.message == (
        "AWS refused describe_instances the instance: InvalidInstanceID.NotFound"
    )
    assert str(raised.value) == raised.value.message
