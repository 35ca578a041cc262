"""Glance uploads EC2 makes into AMIs by VM Import (``vmdk``, ``vhd``, ``vhdx``, or an ``ova``
container): the bytes go to the region's S3 bucket, ``import_image`` turns them into an AMI,
and the S3 copy is removed once it has (or the import failed). An endpoint without VM Import
(the emulator), or a region without an ``object_bucket``, answers ``NotSupported``.

The other half of :class:`.image_upload.AmiUploads`, which makes AMIs of raw uploads itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from interstack.backends.aws.client import aws_call, error_code, tag_spec, tags, translate
from interstack.backends.aws.objects import S3Objects
from interstack.backends.aws.upload_data import Counted, refuse_empty
from interstack.backends.contract import ImageInfo, NativeRef
from interstack.errors import BackendError, NotFound, NotSupported

log = logging.getLogger(__name__)

#: where in the region's bucket VM Import reads a disk image: ``interstack-images/<id>/disk``
IMPORT_ACCOUNT = "interstack-images"
DISK_OBJECT = "disk"
#: Glance's disk formats VM Import takes, as ``import_image`` spells them
IMPORT_FORMATS = {"vmdk": "VMDK", "vhd": "VHD", "vhdx": "VHDX"}


def import_format(disk_format: str, container_format: str) -> str | None:
    """How ``import_image`` names the upload's format; None for one VM Import does not take."""
    return "OVA" if container_format == "ova" else IMPORT_FORMATS.get(disk_format)


class VmImports:
    """VM Import tasks of uploads, each with its S3 copy and tagged with the image's gateway
    id; ``objects`` is the region's bucket (None: the region has none)."""

    def __init__(self, ec2: Any, region: str, objects: S3Objects | None) -> None:
        self.ec2 = ec2
        self.region = region
        self.objects = objects

    def start(
        self,
        gateway_id: str,
        data: Iterable[bytes],
        import_format: str,
        architecture: str,
        size: int | None,
    ) -> ImageInfo:
        """The upload streamed to the region's bucket (in parts sized to fit S3's 10,000 where
        its length is declared) and a VM Import of it started."""
        assert self.objects is not None
        folder = self.objects.create_container(IMPORT_ACCOUNT, gateway_id)  # the bucket exists
        counted = Counted(data)
        self.objects.put_object(
            folder, DISK_OBJECT, counted, "application/octet-stream", length=size
        )
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        source = {"S3Bucket": self.objects.bucket, "S3Key": f"{folder}/{DISK_OBJECT}"}
        try:
            refuse_empty(self.region, counted.size)
            started = self.ec2.import_image(
                Description=f"interstack image {gateway_id}",
                Architecture=architecture,
                DiskContainers=[{"Format": import_format, "UserBucket": source}],
                TagSpecifications=tag_spec("import-image-task", labels),
            )
        except ClientError as exc:
            self.drop_copy(gateway_id)
            if error_code(exc) in {"NotImplemented", "InvalidAction", "UnsupportedOperation"}:
                raise self._no_import(error_code(exc)) from exc
            raise translate(exc, f"import_image for image {gateway_id}") from exc
        except (BotoCoreError, ResponseParserError) as exc:  # no AWS answer: no VM Import here
            self.drop_copy(gateway_id)
            raise self._no_import(type(exc).__name__) from exc
        except BaseException:
            self.drop_copy(gateway_id)
            raise
        return ImageInfo(
            ref=NativeRef(str(started["ImportTaskId"])),
            gateway_id=gateway_id,
            size=counted.size,
            sha256=counted.sha256,
            ready=False,
        )

    def drop_copy(self, gateway_id: str) -> None:
        """Delete the S3 copy VM Import reads (if there is one)."""
        if self.objects is not None:
            with suppress(NotFound):
                self.objects.delete_object(NativeRef(f"{IMPORT_ACCOUNT}/{gateway_id}"), DISK_OBJECT)

    def cancel(self, task: str) -> None:
        """Cancel a running import (one that ended already is left as it is)."""
        try:
            self.ec2.cancel_import_task(ImportTaskId=task)
        except ClientError as exc:
            log.info("cancelling VM Import %s: %s", task, error_code(exc))

    def _no_import(self, why: str) -> NotSupported:
        return NotSupported(
            f"region {self.region}: this EC2 endpoint does not import disk images "
            f"(import_image: {why}); upload the disk as raw instead"
        )

    def state(self, task: str) -> tuple[str, str]:
        """The import's state and the AMI it made (empty until it has)."""
        with aws_call(f"describe_import_image_tasks {task}"):
            found = self.ec2.describe_import_image_tasks(ImportTaskIds=[task])
        (status,) = found["ImportImageTasks"]
        state = str(status.get("Status", ""))
        if state in {"deleting", "deleted"}:
            raise BackendError(f"VM Import {task} failed: {status.get('StatusMessage', state)}")
        return state, str(status.get("ImageId", ""))

    def tag_imported(self, gateway_id: str, ami: str) -> None:
        """Tag the AMI an import made, and its snapshots, with the image's gateway id."""
        labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
        with aws_call(f"tagging imported AMI {ami}"):
            images = self.ec2.describe_images(ImageIds=[ami])["Images"]
            snapshots = [
                m["Ebs"]["SnapshotId"]
                for m in images[0].get("BlockDeviceMappings", [])
                if m.get("Ebs", {}).get("SnapshotId")
            ]
            self.ec2.create_tags(Resources=[ami, *snapshots], Tags=labels)
