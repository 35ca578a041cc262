"""The aws backend: drivers composed over one EC2 client (and one S3 client for Swift)."""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import cached_property
from typing import Any, cast

from interstack.backends.aws.cleanup import RegionCleanup
from interstack.backends.aws.client import AWS_POLLING, aws_call, ec2_client, s3_client
from interstack.backends.aws.compute import AwsCompute
from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.native_ids import NativeIdsHidden
from interstack.backends.aws.network import AwsNetwork
from interstack.backends.aws.objects import S3Objects
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.aws.unsupported import UnsupportedObjectStore
from interstack.backends.aws.volumes import AwsVolumes
from interstack.backends.contract import (
    Backend,
    BackendContext,
    BlockStorageDriver,
    Capabilities,
    ComputeDriver,
    ImageDriver,
    NetworkDriver,
    ObjectStoreDriver,
    Polling,
)
from interstack.errors import InterstackError

log = logging.getLogger(__name__)

#: what EC2 gives the drivers above; moto proves the API calls, not real boots (docs/aws-backend.md)
AWS_CAPABILITIES = Capabilities(
    compute=True,
    pause=True,  # a stopped instance the gateway reports as PAUSED
    suspend=True,  # likewise, SUSPENDED
    console_output=True,
    resize=True,
    native_flavors=True,  # the region's flavors are its configured instance types
    server_snapshots=True,  # createImage -> an AMI
    image_upload=True,  # raw -> EBS snapshot -> AMI; vmdk/vhd/vhdx/ova -> S3 -> VM Import
    networks=True,
    floating_ips=True,
    security_groups=True,
    volumes=True,  # EBS
    volume_attach_hot=True,
    snapshots=True,  # EBS snapshots
    volume_extend=True,  # modify_volume
    steps_in_request=True,  # RunInstances, TerminateInstances: EC2 answers at once
)


class AwsBackend(Backend):
    """One AWS region (or an emulator at ``endpoint_url``) as one interstack region."""

    def __init__(self, context: BackendContext) -> None:
        super().__init__(context)
        self.settings = AwsSettings.parse(context.region, context.settings)
        self._ec2: Any = ec2_client(context.region, self.settings)
        self._s3: Any = None
        self._object_store: ObjectStoreDriver = UnsupportedObjectStore()
        if self.settings.object_bucket:
            self._s3 = s3_client(context.region, self.settings)
            self._object_store = S3Objects(
                self._s3, context.region, self.settings.object_bucket, self.settings.aws_region
            )
        objects = self._object_store if isinstance(self._object_store, S3Objects) else None
        #: a raw upload sent without a length is held here until it is whole
        self.spool_dir = context.data_dir / "uploads"
        self._image = AwsImages(self._ec2, context.region, self.settings, objects, self.spool_dir)
        self._compute = AwsCompute(self._ec2, context.region, self.settings, self._image)
        self._network = AwsNetwork(self._ec2, context.region, self.settings)
        self._block_storage = AwsVolumes(self._ec2, context.region, self.settings)

    def __repr__(self) -> str:
        return f"AwsBackend(region={self.region!r}, aws_region={self.settings.aws_region!r})"

    @cached_property  # asked several times a request; fixed once the clients are made
    def capabilities(self) -> Capabilities:
        return replace(AWS_CAPABILITIES, object_store=self._s3 is not None)

    @property
    def polling(self) -> Polling:
        return AWS_POLLING

    @cached_property  # its errors without EC2's ids (native_ids)
    def compute(self) -> ComputeDriver:
        return cast(ComputeDriver, NativeIdsHidden(self._compute))

    @cached_property  # its errors without EC2's ids (native_ids)
    def network(self) -> NetworkDriver:
        return cast(NetworkDriver, NativeIdsHidden(self._network))

    @cached_property  # its errors without EC2's ids (native_ids)
    def block_storage(self) -> BlockStorageDriver:
        return cast(BlockStorageDriver, NativeIdsHidden(self._block_storage))

    @cached_property  # its errors without EC2's ids (native_ids)
    def image(self) -> ImageDriver:
        return cast(ImageDriver, NativeIdsHidden(self._image))

    @property
    def object_store(self) -> ObjectStoreDriver:
        return self._object_store

    def start(self) -> None:
        """Check that AWS answers with these credentials (one cheap call); let go of the VPC
        blocks a stopped gateway left to release later (a failure there is only logged)."""
        with aws_call(f"describe_availability_zones for region {self.region}"):
            self._ec2.describe_availability_zones()
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        try:
            released = self._network.vpcs.release_empty_blocks()
        except InterstackError as exc:
            log.warning("region %s: empty VPC blocks are not released: %s", self.region, exc)
        else:
            if released:
                log.info("region %s: released empty VPC blocks %s", self.region, released)

    def clean_up(self, *, dry_run: bool = False) -> list[str]:
        """Everything tagged with this region in AWS, removed unless ``dry_run``."""
        found = RegionCleanup(self._ec2, self.region).run(dry_run=dry_run)
        if isinstance(self._object_store, S3Objects):
            found += self._object_store.clean_up(dry_run=dry_run)
        return found

    def close(self) -> None:
        self._network.vpcs.close()
        self._ec2.close()
        self._image.uploads.close()
        if self._s3 is not None:
            self._s3.close()
