"""Glance uploads made into AMIs (docs/aws-backend.md, "Images").

- ``raw``: the bytes go straight into a new EBS snapshot through the EBS direct APIs
  (``start_snapshot``, ``put_snapshot_block`` per 512 KiB block with its SHA-256,
  ``complete_snapshot``); all-zero blocks are left out, EBS reads them as zeros. Once EC2 has the
  snapshot ``completed``, ``register_image`` makes an AMI whose root device is that snapshot.
- ``vmdk``, ``vhd``, ``vhdx`` (or an ``ova`` container): the bytes go to the region's S3 bucket
  and VM Import (``import_image``) turns them into an AMI (:mod:`.vm_import`); the S3 copy is
  removed once it has.
- Anything else (``qcow2``, ``vdi``, ``iso`` ...) EC2 cannot import: ``NotSupported`` (Glance's
  501) with a message saying what to upload instead, and so is VM Import on an endpoint without
  it (the emulator) or in a region without an ``object_bucket``.

A raw upload whose length the client declared (``Content-Length``) is streamed into the
snapshot as it comes, a block at a time; one sent chunked (no length) is spooled to a temporary
file first, as a snapshot's size is fixed when it starts. A VM Import upload is streamed to S3
as it comes (a multipart upload needs no length up front, and a declared one sizes its parts to
fit S3's 10,000), counted and hashed on the way.

:meth:`AmiUploads.store` returns once the bytes are in AWS (the snapshot completed by the EBS
direct APIs, or the S3 object and a started import), with the image not ready yet; EC2's slow
part (the snapshot becoming ``completed``, the AMI ``available``, the import) is looked at by
:meth:`AmiUploads.finish`, one look per call, from the gateway's task runner, at most
``image_wait_seconds`` after the upload. Whatever fails, nothing is left: the AMI is
deregistered, the snapshot and the S3 copy deleted (:meth:`AmiUploads.abandon`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws import vm_import
from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_REGION,
    aws_call,
    aws_client,
    error_code,
    is_not_found,
    tag_filters,
    tag_spec,
    tag_value,
    tags,
    translate,
)
from interstack.backends.aws.objects import S3Objects
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.aws.upload_data import (
    BLOCK_SIZE,
    Counted,
    blocks_of,
    refuse_empty,
    spooled,
)
from interstack.backends.contract import ImageInfo, NativeRef
from interstack.errors import (
    BackendError,
    BackendUnavailable,
    BadRequest,
    Conflict,
    NotFound,
    NotSupported,
)

log = logging.getLogger(__name__)

GIB = 2**30
#: blocks written at once: the EBS direct APIs take a snapshot's blocks in parallel
BLOCK_WRITERS = 8
#: the uploaded data's own length, on the snapshot (EBS rounds the volume up to whole GiB)
TAG_SIZE = "interstack:size"
#: the EC2 architecture the AMI is registered with, on the snapshot until it is
TAG_ARCHITECTURE = "interstack:architecture"
ROOT_DEVICE = "/dev/xvda"
_ZERO_BLOCK = bytes(BLOCK_SIZE)
#: Glance's ``architecture`` values (and the other names of the same ones) -> EC2's
_ARCHITECTURES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i686": "i386",
    "i386": "i386",
}


def ec2_architecture(glance: object) -> str:
    """The EC2 architecture of an image whose Glance ``architecture`` property is ``glance``
    (x86_64 where it has none); ``BadRequest`` for one EC2 cannot run."""
    if glance is None or glance == "":
        return "x86_64"
    found = _ARCHITECTURES.get(str(glance).lower())
    if found is None:
        raise BadRequest(
            f"EC2 cannot run images of architecture {glance!r}: set the image's architecture "
            "property to x86_64, aarch64 or i686 (or remove it for x86_64) and upload again"
        )
    return found


def _not_ready(gateway_id: str, ref: str, size: int = 0, sha256: str = "") -> ImageInfo:
    return ImageInfo(
        ref=NativeRef(ref), gateway_id=gateway_id, size=size, sha256=sha256, ready=False
    )


def _declared(data: Counted, size: int) -> Iterator[tuple[int, bytes]]:
    """The blocks of an upload that must be ``size`` bytes long: ``BadRequest`` as soon as it
    is longer, or at its end if it is shorter (the snapshot is then removed)."""
    for index, block in blocks_of(data):
        if data.size > size:
            break
        yield index, block
    if data.size != size:
        raise BadRequest(
            f"the upload sent {'more than ' if data.size > size else ''}{data.size} bytes, "
            f"not the {size} its Content-Length declared"
        )


def _checksum(block: bytes) -> str:
    return base64.b64encode(hashlib.sha256(block).digest()).decode()


class AmiUploads:
    """Makes AMIs of uploaded bytes; the AMI, its snapshot and any S3 copy carry the image's
    gateway id, by which :meth:`leftovers` finds them again for deletion."""

    def __init__(
        self,
        ec2: Any,
        region: str,
        settings: AwsSettings,
        objects: S3Objects | None,
        spool_dir: Path | None = None,
    ) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self.objects = objects
        self.imports = vm_import.VmImports(ec2, region, objects)
        #: where a raw upload without a length is held until it is whole (the region's data
        #: directory; the system's temporary directory if None)
        self.spool_dir = spool_dir

    @cached_property
    def ebs(self) -> Any:
        """The EBS direct APIs' client, built on the first raw upload."""
        return aws_client("ebs", self.region, self.settings)

    def close(self) -> None:
        if "ebs" in self.__dict__:  # built only if a raw upload came
            self.ebs.close()

    def store(
        self,
        gateway_id: str,
        data: Iterable[bytes],
        disk_format: str,
        container_format: str,
        architecture: str = "x86_64",
        size: int | None = None,
    ) -> ImageInfo:
        """The upload's bytes in AWS (an AMI to follow); ``size``: the length the client
        declared, where it did."""
        import_format = vm_import.import_format(disk_format, container_format)
        if disk_format != "raw" and import_format is None:
            raise NotSupported(
                f"region {self.region}: EC2 cannot make a machine image of a {disk_format} "
                "disk; upload it as raw (qemu-img convert -O raw), vmdk, vhd or vhdx"
            )
        if import_format is not None and self.objects is None:
            raise NotSupported(
                f"region {self.region}: a {disk_format} upload is imported by EC2 from S3, and "
                "this region has no object_bucket; upload the disk as raw instead"
            )
        self._refuse_second_upload(gateway_id)
        if import_format is not None:
            return self.imports.start(gateway_id, data, import_format, architecture, size)
        if size is not None:  # streamed into a snapshot of that size
            refuse_empty(self.region, size)
            counted = Counted(data)
            snapshot = self._write_snapshot(
                gateway_id, size, _declared(counted, size), architecture
            )
            return _not_ready(gateway_id, snapshot, counted.size, counted.sha256)
        with spooled(data, self.spool_dir) as upload:
            refuse_empty(self.region, upload.size)
            snapshot = self._write_snapshot(gateway_id, upload.size, upload.blocks(), architecture)
        return _not_ready(gateway_id, snapshot, upload.size, upload.sha256)

    def finish(self, gateway_id: str, ref: str, waited_seconds: float) -> ImageInfo:
        """One look at an upload EC2 is making into an AMI (:meth:`store` gave the first
        ``ref``): a completed snapshot is registered as an AMI, an available AMI or a completed
        import is ready; anything else is looked at again (with the ref returned), for at most
        ``image_wait_seconds`` in all."""
        if ref.startswith("import-"):
            state, ami = self.imports.state(ref)
            if state == "completed":
                self.imports.tag_imported(gateway_id, ami)
                self.imports.drop_copy(gateway_id)
                return ImageInfo(ref=NativeRef(ami), gateway_id=gateway_id, size=0, sha256="")
        elif ref.startswith("snap-"):
            snapshot = self._snapshot(ref)
            state = str(snapshot.get("State", ""))
            if state == "completed":
                architecture = tag_value(snapshot, TAG_ARCHITECTURE) or "x86_64"
                return _not_ready(gateway_id, self._register(gateway_id, ref, architecture))
        else:
            state, _ = self._image_state(ref)
            if state == "available":
                return ImageInfo(ref=NativeRef(ref), gateway_id=gateway_id, size=0, sha256="")
        if waited_seconds > self.settings.image_wait_seconds:
            raise BackendError(
                f"{ref} of image {gateway_id} is still {state or 'unknown'} after "
                f"{self.settings.image_wait_seconds:g} s"
            )
        return _not_ready(gateway_id, ref)

    def abandon(self, gateway_id: str, ref: str) -> None:
        """Remove what an upload that will not finish made: a running import is cancelled,
        the AMI deregistered, the snapshots and the S3 copy deleted (each may be gone)."""
        if ref.startswith("import-"):
            self.imports.cancel(ref)
        mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
        with aws_call(f"describe_images of image {gateway_id}"):
            amis = self.ec2.describe_images(Owners=["self"], Filters=mine)["Images"]
        ami = str(amis[0]["ImageId"]) if amis else (ref if ref.startswith("ami-") else None)
        snapshots = [ref] if ref.startswith("snap-") else []
        failures = self.remove(ami, [*snapshots, *self.leftovers(gateway_id)])
        self.imports.drop_copy(gateway_id)
        if failures:
            raise failures[0]

    def _refuse_second_upload(self, gateway_id: str) -> None:
        mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
        with aws_call(f"describe_images of image {gateway_id}"):
            known = self.ec2.describe_images(Owners=["self"], Filters=mine)["Images"]
        if known:
            raise Conflict(f"image {gateway_id} already has data (AMI {known[0]['ImageId']})")

    # -- raw: EBS direct APIs, then register_image -----------------------------------------------

    def _write_snapshot(
        self,
        gateway_id: str,
        size: int,
        blocks: Iterator[tuple[int, bytes]],
        architecture: str,
    ) -> str:
        """A completed EBS snapshot of the upload's ``size`` bytes (EC2 may still be storing
        it: not waited for), tagged with what the AMI is made of later; removed if writing it
        fails."""
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        with aws_call(f"start_snapshot for image {gateway_id}"):
            started = self.ebs.start_snapshot(
                VolumeSize=max(1, -(-size // GIB)),
                Tags=[
                    *labels,
                    {"Key": TAG_SIZE, "Value": str(size)},
                    {"Key": TAG_ARCHITECTURE, "Value": architecture},
                ],
                Description=f"interstack image {gateway_id}",
                Timeout=60,
            )
        snapshot = str(started["SnapshotId"])
        try:
            self._write_blocks(snapshot, blocks)
        except BaseException:
            self.remove(None, [snapshot])
            raise
        return snapshot

    def _write_blocks(self, snapshot: str, blocks: Iterator[tuple[int, bytes]]) -> None:
        """Every block that is not all zeros, ``BLOCK_WRITERS`` at a time (EBS takes a
        snapshot's blocks in any order and in parallel), then the completion."""
        written = 0
        with ThreadPoolExecutor(BLOCK_WRITERS, thread_name_prefix="ebs-block") as pool:
            pending: deque[Future[None]] = deque()
            for index, block in blocks:
                if block == _ZERO_BLOCK:
                    continue
                if len(pending) >= BLOCK_WRITERS:  # at most this many blocks held in memory
                    pending.popleft().result()
                pending.append(pool.submit(self._put_block, snapshot, index, block))
                written += 1
            for future in pending:
                future.result()
        with aws_call(f"complete_snapshot {snapshot}"):
            self.ebs.complete_snapshot(SnapshotId=snapshot, ChangedBlocksCount=written)

    def _put_block(self, snapshot: str, index: int, block: bytes) -> None:
        with aws_call(f"put_snapshot_block {index} of snapshot {snapshot}"):
            self.ebs.put_snapshot_block(
                SnapshotId=snapshot,
                BlockIndex=index,
                BlockData=block,
                DataLength=BLOCK_SIZE,
                Checksum=_checksum(block),
                ChecksumAlgorithm="SHA256",
            )

    def _register(self, gateway_id: str, snapshot: str, architecture: str) -> str:
        """The AMI booting from ``snapshot``, tagged (afterwards as well: not every EC2 applies
        ``TagSpecifications`` here). HVM: Glance's upload does not say otherwise. Registered
        without looking first: a look cut short and made again (or two looks at once) meets
        EC2's ``InvalidAMIName.Duplicate`` (EC2 keeps AMI names unique) and finds the AMI it
        registered by its name; one EC2 does not show yet is looked for at the next look."""
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        root = {"SnapshotId": snapshot, "DeleteOnTermination": True, "VolumeType": "gp3"}
        try:
            made = self.ec2.register_image(
                Name=f"interstack-{gateway_id}",
                Description=f"interstack image {gateway_id}",
                Architecture=architecture,
                VirtualizationType="hvm",
                EnaSupport=True,
                RootDeviceName=ROOT_DEVICE,
                BlockDeviceMappings=[{"DeviceName": ROOT_DEVICE, "Ebs": root}],
                TagSpecifications=tag_spec("image", labels),
            )
            ami = str(made["ImageId"])
        except ClientError as exc:
            if error_code(exc) != "InvalidAMIName.Duplicate":
                raise translate(exc, f"register_image for image {gateway_id}") from exc
            found = self._registered(gateway_id)
            if found is None:  # registered, and not described yet (eventual consistency)
                raise BackendUnavailable(
                    f"EC2 has an AMI named interstack-{gateway_id} and does not show it yet"
                ) from exc
            ami = found
        with aws_call(f"tagging AMI {ami}"):
            self.ec2.create_tags(Resources=[ami], Tags=labels)
        return ami

    def _registered(self, gateway_id: str) -> str | None:
        """The AMI registered for the image, by its name."""
        with aws_call(f"describe_images of image {gateway_id}"):
            found = self.ec2.describe_images(
                Owners=["self"], Filters=[{"Name": "name", "Values": [f"interstack-{gateway_id}"]}]
            )["Images"]
        return str(found[0]["ImageId"]) if found else None

    # -- reading an upload back ------------------------------------------------------------------

    def uploaded_snapshot(self, ami: str) -> tuple[str, int]:
        """The snapshot a raw upload wrote for ``ami``, and the upload's length. ``NotFound``
        for an AMI that is gone; ``NotSupported`` for any other AMI (EC2 gives no data back)."""
        with aws_call(f"describe_images {ami}"):
            images = self.ec2.describe_images(ImageIds=[ami])["Images"]
        if not images:
            raise NotFound(f"AMI {ami} does not exist")
        gateway_id = tag_value(images[0], TAG_GATEWAY_ID)
        if gateway_id and tag_value(images[0], TAG_REGION) == self.region:
            mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
            with aws_call(f"describe_snapshots of AMI {ami}"):
                found = self.ec2.describe_snapshots(OwnerIds=["self"], Filters=mine)
            for snapshot in found["Snapshots"]:
                size = tag_value(snapshot, TAG_SIZE)
                if size is not None and size.isdigit():
                    return str(snapshot["SnapshotId"]), int(size)
        raise NotSupported(
            f"region {self.region}: the data of AMI {ami} cannot be downloaded from AWS "
            "(only a raw upload is read back, from its EBS snapshot)"
        )

    def read(self, snapshot: str, size: int) -> Generator[bytes]:
        """The upload's bytes from its snapshot, block by block (blocks never written are
        zeros), cut to its length."""
        tokens: dict[int, str] = {}
        request: dict[str, Any] = {"SnapshotId": snapshot}
        while True:
            with aws_call(f"list_snapshot_blocks {snapshot}"):
                page = self.ebs.list_snapshot_blocks(**request)
            tokens.update((int(b["BlockIndex"]), str(b["BlockToken"])) for b in page["Blocks"])
            if not page.get("NextToken"):
                break
            request["NextToken"] = page["NextToken"]
        for index in range(-(-size // BLOCK_SIZE)):
            block = _ZERO_BLOCK
            if index in tokens:
                with aws_call(f"get_snapshot_block {index} of snapshot {snapshot}"):
                    answer = self.ebs.get_snapshot_block(
                        SnapshotId=snapshot, BlockIndex=index, BlockToken=tokens[index]
                    )
                    block = answer["BlockData"].read()
            yield block[: size - index * BLOCK_SIZE]

    # -- waiting and removal ---------------------------------------------------------------------

    def _snapshot(self, snapshot: str) -> dict[str, Any]:
        with aws_call(f"describe_snapshots {snapshot}"):
            (found,) = self.ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
        if found.get("State") == "error":
            raise BackendError(f"EBS snapshot {snapshot} failed: {found.get('StateMessage', '')}")
        return dict(found)

    def _image_state(self, ami: str) -> tuple[str, str]:
        with aws_call(f"describe_images {ami}"):
            images = self.ec2.describe_images(ImageIds=[ami])["Images"]
        state = str(images[0].get("State", "")) if images else "pending"
        if state in {"failed", "error", "invalid", "deregistered"}:
            raise BackendError(f"AMI {ami} is {state}")
        return state, ami

    def leftovers(self, gateway_id: str) -> list[str]:
        """The EBS snapshots interstack made for the image ``gateway_id``."""
        mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
        with aws_call(f"describe_snapshots of image {gateway_id}"):
            found = self.ec2.describe_snapshots(OwnerIds=["self"], Filters=mine)["Snapshots"]
        return [str(s["SnapshotId"]) for s in found]

    def remove(self, ami: str | None, snapshots: list[str]) -> list[Exception]:
        """Deregister ``ami`` and delete ``snapshots``, each already gone or not; what failed
        (logged) is returned, every removal having been tried."""
        failures: list[Exception] = []
        if ami:
            try:
                self.ec2.deregister_image(ImageId=ami)
            except ClientError as exc:
                if not is_not_found(exc):
                    failures.append(translate(exc, f"deregister_image {ami}"))
        for snapshot in dict.fromkeys(snapshots):
            try:
                self.ec2.delete_snapshot(SnapshotId=snapshot)
            except ClientError as exc:
                if not is_not_found(exc):
                    failures.append(translate(exc, f"delete_snapshot {snapshot}"))
        for failure in failures:
            log.warning("removing AMI %s and its snapshots: %s", ami, failure)
        return failures
