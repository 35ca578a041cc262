"""Glance uploads made into AMIs (docs/aws-backend.md, "Images").

- ``raw``: the bytes go straight into a new EBS snapshot through the EBS direct APIs
  (``start_snapshot``, ``put_snapshot_block`` per 512 KiB block with its SHA-256,
  ``complete_snapshot``); all-zero blocks are left out, EBS reads them as zeros. Once EC2 has the
  snapshot ``completed``, ``register_image`` makes an AMI whose root device is that snapshot.
- ``vmdk``, ``vhd``, ``vhdx`` (or an ``ova`` container): the bytes go to the region's S3 bucket
  and VM Import (``import_image``) turns them into an AMI; the S3 copy is removed once it has.
- Anything else (``qcow2``, ``vdi``, ``iso`` ...) EC2 cannot import: ``NotSupported`` (Glance's
  501) with a message saying what to upload instead, and so is VM Import on an endpoint without
  it (the emulator) or in a region without an ``object_bucket``.

The upload is spooled to a temporary file first: a snapshot's size is fixed when it starts and
a Glance upload does not announce its length. The request waits while EC2 finishes (the image
is ``saving`` meanwhile), at most ``image_wait_seconds``. Whatever fails, nothing is left: the
AMI is deregistered, the snapshot and the S3 copy deleted.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import tempfile
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import IO, Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

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
from interstack.backends.contract import ImageInfo, NativeRef
from interstack.errors import BackendError, BadRequest, Conflict, NotFound, NotSupported

log = logging.getLogger(__name__)

#: the EBS direct APIs' block: every block written is exactly this long
BLOCK_SIZE = 512 * 1024
GIB = 2**30
#: blocks written at once: the EBS direct APIs take a snapshot's blocks in parallel
BLOCK_WRITERS = 8
#: the uploaded data's own length, on the snapshot (EBS rounds the volume up to whole GiB)
TAG_SIZE = "interstack:size"
#: where in the region's bucket VM Import reads a disk image: ``interstack-images/<id>/disk``
IMPORT_ACCOUNT = "interstack-images"
DISK_OBJECT = "disk"
#: Glance's disk formats VM Import takes, as ``import_image`` spells them
IMPORT_FORMATS = {"vmdk": "VMDK", "vhd": "VHD", "vhdx": "VHDX"}
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


@dataclass(frozen=True)
class Spooled:
    """An upload, read to its end: where it is, how long it is, its SHA-256."""

    file: IO[bytes]
    size: int
    sha256: str

    def blocks(self) -> Iterator[tuple[int, bytes]]:
        """(index, data) of each 512 KiB block, the last one padded with zeros."""
        self.file.seek(0)
        index = 0
        while block := self.file.read(BLOCK_SIZE):
            yield index, block.ljust(BLOCK_SIZE, b"\0")
            index += 1

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(BLOCK_SIZE):
            yield chunk


@contextmanager
def spooled(data: Iterable[bytes]) -> Iterator[Spooled]:
    """The upload in a temporary file, removed afterwards whatever happens."""
    digest = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile(prefix="interstack-upload-") as handle:
        for chunk in data:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        handle.flush()
        yield Spooled(handle, size, digest.hexdigest())


def _checksum(block: bytes) -> str:
    return base64.b64encode(hashlib.sha256(block).digest()).decode()


class AmiUploads:
    """Makes AMIs of uploaded bytes; the AMI, its snapshot and any S3 copy carry the image's
    gateway id, by which :meth:`leftovers` finds them again for deletion."""

    def __init__(
        self, ec2: Any, region: str, settings: AwsSettings, objects: S3Objects | None
    ) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self.objects = objects

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
    ) -> ImageInfo:
        import_format = "OVA" if container_format == "ova" else IMPORT_FORMATS.get(disk_format)
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
        with spooled(data) as upload:
            if upload.size == 0:
                raise NotSupported(f"region {self.region}: an empty image cannot become an AMI")
            if import_format is not None:
                ami = self._imported(gateway_id, upload, import_format, architecture)
            else:
                ami = self._registered(gateway_id, upload, architecture)
        return ImageInfo(
            ref=NativeRef(ami), gateway_id=gateway_id, size=upload.size, sha256=upload.sha256
        )

    def _refuse_second_upload(self, gateway_id: str) -> None:
        mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
        with aws_call(f"describe_images of image {gateway_id}"):
            known = self.ec2.describe_images(Owners=["self"], Filters=mine)["Images"]
        if known:
            raise Conflict(f"image {gateway_id} already has data (AMI {known[0]['ImageId']})")

    # -- raw: EBS direct APIs, then register_image -----------------------------------------------

    def _registered(self, gateway_id: str, upload: Spooled, architecture: str) -> str:
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        with aws_call(f"start_snapshot for image {gateway_id}"):
            started = self.ebs.start_snapshot(
                VolumeSize=max(1, -(-upload.size // GIB)),
                Tags=[*labels, {"Key": TAG_SIZE, "Value": str(upload.size)}],
                Description=f"interstack image {gateway_id}",
                Timeout=60,
            )
        snapshot = str(started["SnapshotId"])
        ami = None
        try:
            self._write_blocks(snapshot, upload)
            self._wait(
                f"snapshot {snapshot} of image {gateway_id}",
                lambda: self._snapshot_state(snapshot),
                done="completed",
            )
            ami = self._register(gateway_id, snapshot, labels, architecture)
            self._wait(f"AMI {ami}", lambda: self._image_state(ami), done="available")
        except BaseException:
            self.remove(ami, [snapshot])
            raise
        return ami

    def _write_blocks(self, snapshot: str, upload: Spooled) -> None:
        """Every block that is not all zeros, ``BLOCK_WRITERS`` at a time (EBS takes a
        snapshot's blocks in any order and in parallel), then the completion."""
        written = 0
        with ThreadPoolExecutor(BLOCK_WRITERS, thread_name_prefix="ebs-block") as pool:
            pending: deque[Future[None]] = deque()
            for index, block in upload.blocks():
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

    def _register(
        self, gateway_id: str, snapshot: str, labels: list[dict[str, str]], architecture: str
    ) -> str:
        """The AMI booting from ``snapshot``, tagged (afterwards as well: not every EC2 applies
        ``TagSpecifications`` here). HVM: Glance's upload does not say otherwise."""
        root = {"SnapshotId": snapshot, "DeleteOnTermination": True, "VolumeType": "gp3"}
        with aws_call(f"register_image for image {gateway_id}"):
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
        try:
            with aws_call(f"tagging AMI {ami}"):
                self.ec2.create_tags(Resources=[ami], Tags=labels)
        except BaseException:
            self.remove(ami, [])
            raise
        return ami

    # -- vmdk, vhd, vhdx, ova: S3, then VM Import -------------------------------------------------

    def _imported(
        self, gateway_id: str, upload: Spooled, import_format: str, architecture: str
    ) -> str:
        assert self.objects is not None
        folder = self.objects.create_container(IMPORT_ACCOUNT, gateway_id)  # the bucket exists
        self.objects.put_object(folder, DISK_OBJECT, upload.chunks(), "application/octet-stream")
        try:
            task = self._start_import(
                gateway_id, f"{folder}/{DISK_OBJECT}", import_format, architecture
            )
            ami = self._wait(
                f"VM Import {task} of image {gateway_id}",
                lambda: self._import_state(task),
                done="completed",
            )
            self._tag_imported(gateway_id, ami)
        finally:
            self.objects.delete_object(folder, DISK_OBJECT)
        return ami

    def _start_import(
        self, gateway_id: str, key: str, import_format: str, architecture: str
    ) -> str:
        assert self.objects is not None
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        source = {"S3Bucket": self.objects.bucket, "S3Key": key}
        try:
            started = self.ec2.import_image(
                Description=f"interstack image {gateway_id}",
                Architecture=architecture,
                DiskContainers=[{"Format": import_format, "UserBucket": source}],
                TagSpecifications=tag_spec("import-image-task", labels),
            )
        except ClientError as exc:
            if error_code(exc) in {"NotImplemented", "InvalidAction", "UnsupportedOperation"}:
                raise self._no_import(error_code(exc)) from exc
            raise translate(exc, f"import_image for image {gateway_id}") from exc
        except (BotoCoreError, ResponseParserError) as exc:  # no AWS answer: no VM Import here
            raise self._no_import(type(exc).__name__) from exc
        return str(started["ImportTaskId"])

    def _no_import(self, why: str) -> NotSupported:
        return NotSupported(
            f"region {self.region}: this EC2 endpoint does not import disk images "
            f"(import_image: {why}); upload the disk as raw instead"
        )

    def _import_state(self, task: str) -> tuple[str, str]:
        with aws_call(f"describe_import_image_tasks {task}"):
            found = self.ec2.describe_import_image_tasks(ImportTaskIds=[task])
        (status,) = found["ImportImageTasks"]
        state = str(status.get("Status", ""))
        if state in {"deleting", "deleted"}:
            raise BackendError(f"VM Import {task} failed: {status.get('StatusMessage', state)}")
        return state, str(status.get("ImageId", ""))

    def _tag_imported(self, gateway_id: str, ami: str) -> None:
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        try:
            with aws_call(f"tagging imported AMI {ami}"):
                images = self.ec2.describe_images(ImageIds=[ami])["Images"]
                snapshots = [
                    m["Ebs"]["SnapshotId"]
                    for m in images[0].get("BlockDeviceMappings", [])
                    if m.get("Ebs", {}).get("SnapshotId")
                ]
                self.ec2.create_tags(Resources=[ami, *snapshots], Tags=labels)
        except BaseException:
            self.remove(ami, [])
            raise

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

    def _snapshot_state(self, snapshot: str) -> tuple[str, str]:
        with aws_call(f"describe_snapshots {snapshot}"):
            (found,) = self.ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"]
        if found.get("State") == "error":
            raise BackendError(f"EBS snapshot {snapshot} failed: {found.get('StateMessage', '')}")
        return str(found.get("State", "")), snapshot

    def _image_state(self, ami: str) -> tuple[str, str]:
        with aws_call(f"describe_images {ami}"):
            images = self.ec2.describe_images(ImageIds=[ami])["Images"]
        state = str(images[0].get("State", "")) if images else "pending"
        if state in {"failed", "error", "invalid", "deregistered"}:
            raise BackendError(f"AMI {ami} is {state}")
        return state, ami

    def _wait(self, what: str, look: Callable[[], tuple[str, str]], *, done: str) -> str:
        """Ask ``look`` (state, result) until the state is ``done``; the result then."""
        deadline = time.monotonic() + self.settings.image_wait_seconds
        pause = 0.5
        while True:
            state, result = look()
            if state == done:
                return result
            if time.monotonic() + pause > deadline:
                raise BackendError(
                    f"{what} is still {state or 'unknown'} after "
                    f"{self.settings.image_wait_seconds:g} s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 10.0)

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
