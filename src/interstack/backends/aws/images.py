"""Images as AMIs.

Glance shows the AMIs the settings select (:meth:`AwsImages.provided_images`): the account's
own AMIs (``own_images``) and those the ``images`` filters match, never the whole public
catalogue (thousands of AMIs). Each becomes a public Glance image whose data is the AMI id, so
servers boot from it. AMIs interstack made itself (``createImage``) are Glance images already
and are left out.

An upload becomes an AMI (:mod:`interstack.backends.aws.image_upload`). Only a raw upload's data
can be read back (from its EBS snapshot); downloading any other AMI is ``NotSupported`` (Glance's
501) instead of pretending.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_REGION,
    aws_call,
    error_code,
    is_not_found,
    tag_filters,
    tag_spec,
    tag_value,
    tags,
    translate,
)
from interstack.backends.aws.image_upload import AmiUploads, ec2_architecture
from interstack.backends.aws.objects import S3Objects
from interstack.backends.aws.settings import AwsSettings, ImageFilter
from interstack.backends.contract import (
    ByteStream,
    ImageDriver,
    ImageInfo,
    NativeRef,
    ProvidedImage,
)
from interstack.errors import BackendError, NotSupported

#: EC2's architecture names -> Glance's ``architecture`` property values
_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64", "i386": "i686"}
_AVAILABLE = {"Name": "state", "Values": ["available"]}


def provided_image(ami: dict[str, Any]) -> ProvidedImage:
    """The Glance view of an AMI: its name, the AMI id as data, and what EC2 says of it."""
    properties = {"aws_image_id": str(ami["ImageId"])}
    architecture = _ARCHITECTURES.get(str(ami.get("Architecture", "")))
    if architecture:
        properties["architecture"] = architecture
    if ami.get("PlatformDetails"):
        properties["os_type"] = "windows" if "Windows" in ami["PlatformDetails"] else "linux"
    return ProvidedImage(
        name=str(ami.get("Name") or ami["ImageId"]),
        ref=NativeRef(ami["ImageId"]),
        disk_format="ami",
        container_format="ami",
        properties=properties,
    )


def _ebs_snapshots(ami: dict[str, Any]) -> list[str]:
    return [
        str(m["Ebs"]["SnapshotId"])
        for m in ami.get("BlockDeviceMappings", [])
        if m.get("Ebs", {}).get("SnapshotId")
    ]


def _size_bytes(ami: dict[str, Any]) -> int:
    """The AMI's EBS volumes, in bytes (EC2 does not tell the data's own size)."""
    mappings = ami.get("BlockDeviceMappings", [])
    gib = sum(int(m.get("Ebs", {}).get("VolumeSize", 0)) for m in mappings)
    return gib * 2**30


class AwsImages(ImageDriver):
    def __init__(
        self,
        ec2: Any,
        region: str,
        settings: AwsSettings,
        objects: S3Objects | None = None,
        spool_dir: Path | None = None,
    ) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self.uploads = AmiUploads(ec2, region, settings, objects, spool_dir)

    def _describe(self, doing: str, **request: Any) -> list[dict[str, Any]]:
        with aws_call(doing):
            found: list[dict[str, Any]] = self.ec2.describe_images(**request).get("Images", [])
        return found

    def _matching(self, selection: ImageFilter) -> list[dict[str, Any]]:
        filters = [{"Name": k, "Values": list(v)} for k, v in selection.filters.items()]
        request: dict[str, Any] = {"Filters": [*filters, _AVAILABLE]}
        if selection.owners:
            request["Owners"] = list(selection.owners)
        doing = f"describe_images with filters {sorted(selection.filters)}"
        return self._describe(doing, **request)

    def selected_amis(self) -> list[dict[str, Any]]:
        """The AMIs the settings select, each once, by name (always filtered)."""
        found: dict[str, dict[str, Any]] = {}
        if self.settings.own_images:
            for ami in self._describe("describe_images", Owners=["self"], Filters=[_AVAILABLE]):
                if tag_value(ami, TAG_REGION) != self.region:  # our snapshots are in Glance
                    found[ami["ImageId"]] = ami
        for selection in self.settings.images:
            found.update((ami["ImageId"], ami) for ami in self._matching(selection))
        return sorted(found.values(), key=lambda a: (str(a.get("Name") or ""), a["ImageId"]))

    def provided_images(self) -> tuple[ProvidedImage, ...]:
        return tuple(provided_image(ami) for ami in self.selected_amis())

    @property
    def provided_images_refresh_seconds(self) -> float | None:
        return self.settings.image_refresh_seconds

    def capture(
        self, instance: NativeRef, gateway_id: str, check_instance: Callable[[], object]
    ) -> ImageInfo:
        """An AMI of the instance (``create_image`` without a reboot), tagged with the Glance
        image's id. Never waits for it: while the AMI is ``pending`` the answer is not
        ``ready`` and the caller asks again (idempotent on the gateway id, and on the AMI's
        name, which EC2 keeps unique, should a describe not show a new AMI yet). An AMI that
        ends in any other state than ``available`` is deregistered."""
        mine = tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id})
        known = self._describe("describe_images", Owners=["self"], Filters=mine)
        if known:
            ami: dict[str, Any] = known[0]
        else:
            check_instance()
            labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
            try:
                made = self.ec2.create_image(
                    InstanceId=instance,
                    Name=f"interstack-{gateway_id}",
                    NoReboot=True,
                    TagSpecifications=tag_spec("image", labels),
                )
            except ClientError as exc:
                if error_code(exc) != "InvalidAMIName.Duplicate":
                    raise translate(exc, f"create_image of {instance}") from exc
                return ImageInfo(
                    ref=NativeRef(""), gateway_id=gateway_id, size=0, sha256="", ready=False
                )
            ami = {"ImageId": made["ImageId"], "State": "pending"}
        ami_id = NativeRef(ami["ImageId"])
        state = ami.get("State")
        if state == "pending":
            return ImageInfo(ref=ami_id, gateway_id=gateway_id, size=0, sha256="", ready=False)
        if state != "available":
            self.delete_image(ami_id)
            raise BackendError(f"AMI {ami_id} of server {instance} is {state}")
        try:
            if _ebs_snapshots(ami):  # tagged afterwards: not every EC2 tags them at creation
                labels = tags(self.region, gateway_id, f"interstack-{gateway_id}")
                with aws_call(f"tagging the snapshots of AMI {ami_id}"):
                    self.ec2.create_tags(Resources=_ebs_snapshots(ami), Tags=labels)
        except BaseException:
            self.delete_image(ami_id)
            raise
        return ImageInfo(ref=ami_id, gateway_id=gateway_id, size=_size_bytes(ami), sha256="")

    def store_image(self, gateway_id: str, data: Iterable[bytes]) -> ImageInfo:
        """``NotSupported``: this region does not claim the ``images`` capability. An AMI is
        ready only after EC2's slow part, which :meth:`store_uploaded_image` leaves to the
        gateway's task; this contract promises a bootable image on return."""
        raise NotSupported(
            f"region {self.region}: image data is stored only through a Glance upload"
        )

    def store_uploaded_image(
        self,
        gateway_id: str,
        data: Iterable[bytes],
        disk_format: str,
        container_format: str,
        properties: Mapping[str, Any] | None = None,
        *,
        size: int | None = None,
    ) -> ImageInfo:
        """An AMI of the upload: raw through an EBS snapshot, other formats by VM Import; of
        the architecture the image's ``architecture`` property names (x86_64 without one)."""
        architecture = ec2_architecture((properties or {}).get("architecture"))
        return self.uploads.store(
            gateway_id, data, disk_format, container_format, architecture, size
        )

    def finish_uploaded_image(
        self, gateway_id: str, ref: NativeRef, waited_seconds: float
    ) -> ImageInfo:
        """One look at EC2 making the upload an AMI (see :meth:`AmiUploads.finish`)."""
        return self.uploads.finish(gateway_id, ref, waited_seconds)

    def abandon_uploaded_image(self, gateway_id: str, ref: NativeRef) -> None:
        self.uploads.abandon(gateway_id, ref)

    def open_image(self, ref: NativeRef) -> ByteStream:
        """A raw upload's bytes, read back from its EBS snapshot; ``NotSupported`` for any
        other AMI (EC2 gives no AMI's data back)."""
        snapshot, size = self.uploads.uploaded_snapshot(ref)
        return self.uploads.read(snapshot, size)

    def delete_image(self, ref: NativeRef) -> None:
        """Deregister the AMI and delete its EBS snapshots, only if interstack created it;
        others are never touched."""
        try:
            images = self.ec2.describe_images(ImageIds=[ref]).get("Images", [])
        except ClientError as exc:
            if is_not_found(exc):
                return
            raise translate(exc, f"describe_images {ref}") from exc
        if not images or tag_value(images[0], TAG_REGION) != self.region:
            return
        snapshots = _ebs_snapshots(images[0])
        gateway_id = tag_value(images[0], TAG_GATEWAY_ID)
        if gateway_id:  # an upload's snapshot, where EC2 does not show the mapping (emulators)
            snapshots += self.uploads.leftovers(gateway_id)
        failures = self.uploads.remove(ref, snapshots)
        if failures:
            raise failures[0]
