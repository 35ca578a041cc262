"""The two sides of the aws overhead benchmark (aws_gateway.py): one round of the sequence
through the gateway with openstacksdk, and the same work as direct boto3 calls."""

from __future__ import annotations

import time
from typing import Any

from aws_steps import PUBLIC_KEY, Meters, Timings, timed, waiting


def gateway_round(sdk: Any, image_id: str, n: int) -> Timings:
    timings: Timings = {}
    net = timed(timings, "network", lambda: sdk.network.create_network(name=f"bench-{n}"))
    subnet = timed(
        timings,
        "subnet",
        lambda: sdk.network.create_subnet(network_id=net.id, cidr=f"10.{n}.0.0/24", ip_version=4),
    )
    group = timed(
        timings, "security group", lambda: sdk.network.create_security_group(name=f"bench-{n}")
    )

    def rules() -> None:
        for port in (22, 443):
            sdk.network.create_security_group_rule(
                security_group_id=group.id,
                direction="ingress",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
            )

    timed(timings, "2 rules", rules)
    key = timed(
        timings,
        "key pair",
        lambda: sdk.compute.create_keypair(name=f"bench-{n}", public_key=PUBLIC_KEY),
    )

    def boot() -> Any:
        server = sdk.compute.create_server(
            name=f"bench-{n}",
            flavor_id="t3.nano",  # the instance type the direct round runs
            image_id=image_id,
            networks=[{"uuid": net.id}],
            key_name=key.name,
            security_groups=[{"name": group.name}],
        )
        return waiting(
            timings,
            lambda: sdk.compute.wait_for_server(
                server, status="ACTIVE", wait=120, interval=Meters.poll
            ),
        )

    server = timed(timings, "server to ACTIVE", boot)
    timed(timings, "list servers", lambda: list(sdk.compute.servers(details=True)))

    def delete_server() -> None:
        sdk.compute.delete_server(server)
        waiting(
            timings,
            lambda: sdk.compute.wait_for_delete(server, wait=120, interval=Meters.poll),
        )

    timed(timings, "server deleted", delete_server)
    timed(timings, "key pair delete", lambda: sdk.compute.delete_keypair(key))
    timed(timings, "group delete", lambda: sdk.network.delete_security_group(group))
    timed(timings, "subnet delete", lambda: sdk.network.delete_subnet(subnet))
    timed(timings, "network delete", lambda: sdk.network.delete_network(net))
    return timings


# -- straight to EC2 --------------------------------------------------------------------------


def direct_round(ec2: Any, vpc_id: str, ami: str, n: int) -> Timings:
    """The EC2 calls of each step as the mapping makes them: a network is a tag on the project
    VPC (no call), a subnet needs a CIDR block of the VPC, a server its ENI; a client waits for
    ``running`` and, after the terminate, for the instance to be going or gone, looking every
    ``Meters.poll`` seconds as the gateway's client does."""
    timings: Timings = {}
    timed(timings, "network", lambda: None)

    def subnet() -> tuple[str, str]:
        block = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=f"10.{n}.0.0/16")
        made = ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.{n}.0.0/24")["Subnet"]
        return block["CidrBlockAssociation"]["AssociationId"], made["SubnetId"]

    block, subnet_id = timed(timings, "subnet", subnet)
    group = timed(
        timings,
        "security group",
        lambda: ec2.create_security_group(
            GroupName=f"bench-{n}", Description="bench", VpcId=vpc_id
        )["GroupId"],
    )

    def rules() -> None:
        for port in (22, 443):
            ec2.authorize_security_group_ingress(
                GroupId=group,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": port,
                        "ToPort": port,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                    }
                ],
            )

    timed(timings, "2 rules", rules)
    timed(
        timings,
        "key pair",
        lambda: ec2.import_key_pair(KeyName=f"bench-{n}", PublicKeyMaterial=PUBLIC_KEY.encode()),
    )

    def state(instance: str) -> str:
        reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
        return str(reservations[0]["Instances"][0]["State"]["Name"])

    def boot() -> tuple[str, str]:
        eni = ec2.create_network_interface(SubnetId=subnet_id, Groups=[group])
        eni_id = eni["NetworkInterface"]["NetworkInterfaceId"]
        instance = ec2.run_instances(
            ImageId=ami,
            InstanceType="t3.nano",
            MinCount=1,
            MaxCount=1,
            KeyName=f"bench-{n}",
            NetworkInterfaces=[{"NetworkInterfaceId": eni_id, "DeviceIndex": 0}],
        )["Instances"][0]["InstanceId"]
        while state(instance) != "running":
            time.sleep(Meters.poll)
        return eni_id, instance

    eni_id, instance = timed(timings, "server to ACTIVE", boot)
    # the live instances, as the gateway lists them (moto keeps the terminated ones of every
    # earlier round, which an unfiltered describe would return too)
    live = [
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    ]
    timed(timings, "list servers", lambda: ec2.describe_instances(Filters=live))

    def delete_server() -> None:
        ec2.terminate_instances(InstanceIds=[instance])
        while state(instance) not in ("shutting-down", "terminated"):
            time.sleep(Meters.poll)
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)

    timed(timings, "server deleted", delete_server)
    timed(timings, "key pair delete", lambda: ec2.delete_key_pair(KeyName=f"bench-{n}"))
    timed(timings, "group delete", lambda: ec2.delete_security_group(GroupId=group))

    def delete_subnet() -> None:
        ec2.delete_subnet(SubnetId=subnet_id)
        ec2.disassociate_vpc_cidr_block(AssociationId=block)

    timed(timings, "subnet delete", delete_subnet)
    timed(timings, "network delete", lambda: None)
    return timings
