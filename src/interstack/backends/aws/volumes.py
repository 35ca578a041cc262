"""Volumes and snapshots on EBS.

- A volume is an EBS ``gp3`` volume in the region's ``availability_zone`` (else the first
  available zone), tagged like every resource; it is filled from an EBS snapshot, or from an
  AMI's root snapshot for a volume made from an image.
- Attaching takes the device Cinder asks for as EC2 names it (``/dev/vdb`` -> ``/dev/sdb`` is
  refused by EC2 for Linux data volumes, so requests outside ``/dev/sd[f-p]`` get the next free
  one of those); the device reported is the one EC2 uses. EBS attaches to running instances.
  Attaching and detaching return once EC2 accepted them; :meth:`AwsVolumes.attachment` says
  how EBS goes on (the tasks look at it at the region's polling pace).
- A copy of a volume is made through a snapshot of it (``prepare_volume``: a task looks at
  it in later steps until EBS completed it, minutes for a large volume), deleted once the copy
  exists.
- Snapshots are EBS snapshots; a volume with snapshots of interstack's cannot be deleted (as in
  Cinder, though EBS itself would allow it).
- EC2's describes are eventually consistent: right after ``CreateVolume`` / ``CreateSnapshot``,
  ``DescribeVolumes`` / ``DescribeSnapshots`` by id may answer ``InvalidVolume.NotFound`` /
  ``InvalidSnapshot.NotFound`` for a few seconds. What this process created is remembered, and
  for :data:`_SETTLING_SECONDS` a look that EC2 answers so sees it still being created; after
  that, or for one this process did not create, not found is gone (the task waiting on it
  fails, its fault naming EC2's error code).
"""

from __future__ import annotations

import logging
import string
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from interstack.backends.aws.client import (
    AWS_POLLING,
    TAG_GATEWAY_ID,
    aws_call,
    error_code,
    is_not_found,
    tag_filters,
    tag_spec,
    tag_value,
    tags,
    translate,
)
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import (
    AttachmentInfo,
    AttachState,
    BlockStorageDriver,
    NativeRef,
    SnapshotInfo,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)
from interstack.errors import BackendError, BackendUnavailable, BadRequest, Conflict, NotFound

log = logging.getLogger(__name__)

V = VolumeStatus
_VOLUME_STATE = {
    "creating": V.CREATING,
    "available": V.AVAILABLE,
    "in-use": V.IN_USE,
    "deleting": V.DELETING,
    "error": V.ERROR,
}
#: an EBS attachment's states (``busy``: attached, the guest using the device)
_ATTACH_STATE = {
    "attaching": AttachState.ATTACHING,
    "attached": AttachState.ATTACHED,
    "busy": AttachState.ATTACHED,
    "detaching": AttachState.DETACHING,
}
_SNAPSHOT_STATE = {"pending": V.CREATING, "completed": V.AVAILABLE, "error": V.ERROR}
#: the device names EC2 recommends for EBS data volumes
DATA_DEVICES = tuple(f"/dev/sd{letter}" for letter in string.ascii_lowercase[5:16])
#: how each kind is described by id: operation, its ids parameter, the list answered
_DESCRIBE = {
    "volume": ("describe_volumes", "VolumeIds", "Volumes"),
    "snapshot": ("describe_snapshots", "SnapshotIds", "Snapshots"),
}
#: how long after its create a volume or snapshot that EC2 does not describe yet counts as
#: being created (EC2 catches up within seconds; a task looks at a new one at once)
_SETTLING_SECONDS = AWS_POLLING.settling_seconds


@dataclass(frozen=True)
class Created:
    """A volume or snapshot this process created: when, and how EC2 described it then (in the
    state ``creating`` / ``pending``: not usable while EC2 cannot describe it), to stand in
    while EC2 does not describe it yet."""

    at: float
    described: dict[str, Any]


def _attachment(volume: dict[str, Any]) -> dict[str, Any] | None:
    live = [a for a in volume.get("Attachments", []) if a.get("State") in ("attaching", "attached")]
    return live[0] if live else None


def _volume_info(volume: dict[str, Any]) -> VolumeInfo:
    status = _VOLUME_STATE.get(str(volume["State"]), V.ERROR)
    attached = _attachment(volume)
    return VolumeInfo(
        ref=NativeRef(volume["VolumeId"]),
        gateway_id=tag_value(volume, TAG_GATEWAY_ID) or "",
        status=status,
        size_gb=int(volume["Size"]),
        attached_to=NativeRef(attached["InstanceId"]) if attached else None,
        fault=f"EBS reports the volume as {volume['State']}" if status is V.ERROR else None,
    )


def _snapshot_info(snapshot: dict[str, Any]) -> SnapshotInfo:
    status = _SNAPSHOT_STATE.get(str(snapshot["State"]), V.ERROR)
    return SnapshotInfo(
        ref=NativeRef(snapshot["SnapshotId"]),
        gateway_id=tag_value(snapshot, TAG_GATEWAY_ID) or "",
        status=status,
        size_gb=int(snapshot.get("VolumeSize", 0)),
        fault=snapshot.get("StateMessage") or None if status is V.ERROR else None,
    )


def ec2_device(requested: str | None, taken: set[str]) -> str:
    """The EC2 device name for a request (Cinder's ``/dev/vdb`` style or none)."""
    if requested in DATA_DEVICES and requested not in taken:
        return requested
    free = [d for d in DATA_DEVICES if d not in taken]
    if not free:
        raise Conflict("the server has no free EBS device name left (/dev/sdf to /dev/sdp)")
    return free[0]


class AwsVolumes(BlockStorageDriver):
    #: what Cinder's scheduler would be told of this backend (volume types ask by these)
    reported_capabilities = {
        "volume_backend_name": "ebs",
        "vendor_name": "Amazon",
        "storage_protocol": "NVMe",
    }

    def __init__(self, ec2: Any, region: str, settings: AwsSettings) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self._zone: str | None = settings.availability_zone
        #: volumes and snapshots created here, until EC2 describes them (or they are deleted)
        self._created: dict[str, Created] = {}

    def _availability_zone(self) -> str:
        if self._zone is None:
            with aws_call("describe_availability_zones"):
                zones = self.ec2.describe_availability_zones(
                    Filters=[{"Name": "state", "Values": ["available"]}]
                )["AvailabilityZones"]
            if not zones:
                raise BadRequest(f"region {self.region}: AWS lists no available zone")
            self._zone = str(sorted(z["ZoneName"] for z in zones)[0])
        return self._zone

    def _volume(self, ref: NativeRef, *, settling: bool = False) -> dict[str, Any]:
        """The volume as EC2 describes it. With ``settling``, one created here moments ago that
        EC2 does not describe yet is reported as it was created (``creating``)."""
        return self._described("volume", ref, settling)

    def _snapshot(self, ref: NativeRef, *, settling: bool = False) -> dict[str, Any]:
        """The snapshot as EC2 describes it; ``settling`` as for :meth:`_volume`."""
        return self._described("snapshot", ref, settling)

    def _described(self, kind: str, ref: NativeRef, settling: bool) -> dict[str, Any]:
        operation, ids, key = _DESCRIBE[kind]
        try:
            found = getattr(self.ec2, operation)(**{ids: [ref]})[key]
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, f"{operation} {ref}") from exc
            return self._not_described(ref, settling, translate(exc, f"{operation} {ref}"))
        if not found:
            return self._not_described(ref, settling, NotFound(f"{kind} {ref} does not exist"))
        self._created.pop(ref, None)  # EC2 describes it: no stand-in is needed any more
        return dict(found[0])

    def _not_described(self, ref: NativeRef, settling: bool, missing: Exception) -> dict[str, Any]:
        """What stands in for a volume or snapshot EC2 does not describe: as it was created, if
        this process created it moments ago and the caller waits for it to settle; otherwise
        it is gone (``missing`` is raised)."""
        stand_in = self._stand_in(ref)
        if settling and stand_in is not None:
            return stand_in
        raise missing

    def _stand_in(self, ref: str) -> dict[str, Any] | None:
        """How EC2 described a volume or snapshot this process created less than
        :data:`_SETTLING_SECONDS` ago and EC2 has not described since (else None)."""
        created = self._created.get(ref)
        if created is None:
            return None
        if time.monotonic() - created.at >= _SETTLING_SECONDS:
            self._created.pop(ref, None)  # EC2 never caught up: it is gone
            return None
        return dict(created.described)

    def _remember(
        self, described: dict[str, Any], ref_key: str, labels: list[dict[str, str]]
    ) -> dict[str, Any]:
        """Remember what EC2 answered a create with (and its tags), for the looks EC2 cannot
        answer yet."""
        described = {**described, "Tags": described.get("Tags") or labels}
        creating = "creating" if ref_key == "VolumeId" else "pending"
        now = time.monotonic()
        for ref in [r for r, c in list(self._created.items()) if now - c.at >= _SETTLING_SECONDS]:
            self._created.pop(ref, None)  # nobody looked again: nothing is to stand in for it
        self._created[str(described[ref_key])] = Created(now, {**described, "State": creating})
        return described

    def _not_deletable_yet(self, ref: NativeRef, kind: str) -> BackendUnavailable:
        return BackendUnavailable(
            f"EC2 does not describe {kind} {ref} yet, moments after creating it; "
            "it is deleted at the next attempt"
        )

    def _image_snapshot(self, ami: NativeRef) -> str:
        with aws_call(f"describe_images {ami}"):
            images = self.ec2.describe_images(ImageIds=[ami])["Images"]
        root = images[0].get("RootDeviceName") if images else None
        for mapping in images[0].get("BlockDeviceMappings", []) if images else []:
            if mapping.get("DeviceName") == root and mapping.get("Ebs", {}).get("SnapshotId"):
                return str(mapping["Ebs"]["SnapshotId"])
        raise BadRequest(f"AMI {ami} has no EBS root snapshot to make a volume from")

    # -- volumes ------------------------------------------------------------------------------

    def _created_for(self, gateway_id: str, ref_key: str) -> NativeRef | None:
        """The volume or snapshot (``ref_key``) this process created for ``gateway_id`` that EC2
        may not list yet (a create step run again). Matched by its own id: a copy's snapshot
        carries its volume's gateway id and names the volume it is of (``VolumeId``)."""
        for ref, created in list(self._created.items()):
            described = created.described
            if described.get(ref_key) == ref and tag_value(described, TAG_GATEWAY_ID) == gateway_id:
                return NativeRef(ref) if self._stand_in(ref) is not None else None
        return None

    def _known_volume(self, spec: VolumeSpec) -> VolumeInfo | None:
        """The volume a create step run before made for ``spec`` (this process remembers it,
        or EC2 lists it by its tags), if any."""
        made = self._created_for(spec.gateway_id, "VolumeId")
        if made is not None:
            return self.get_volume(made)
        with aws_call("describe_volumes"):
            known = self.ec2.describe_volumes(
                Filters=tag_filters(self.region, **{TAG_GATEWAY_ID: spec.gateway_id})
            )["Volumes"]
        return _volume_info(known[0]) if known else None

    def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        known = self._known_volume(spec)
        if known is not None:
            if spec.prepared is not None:  # made by a step that stopped before it let it go
                self.delete_snapshot(spec.prepared)
            return known
        if spec.source_volume is not None and spec.prepared is None:
            raise BadRequest(
                f"volume {spec.gateway_id}: a copy of {spec.source_volume} is made from the "
                "snapshot prepare_volume takes of it"
            )
        # the token's request holds what the volume cannot change (not its name: a rename
        # between two attempts would make EC2 refuse the second as IdempotentParameterMismatch)
        labels = tags(self.region, spec.gateway_id)
        request: dict[str, Any] = {
            "AvailabilityZone": self._availability_zone(),
            "Size": spec.size_gb,
            "VolumeType": "gp3",
            "TagSpecifications": tag_spec("volume", labels),
        }
        copy_of = spec.prepared if spec.source_volume is not None else None
        if spec.snapshot is not None:
            request["SnapshotId"] = spec.snapshot
        elif spec.image is not None:
            request["SnapshotId"] = self._image_snapshot(spec.image)
        elif copy_of is not None:
            request["SnapshotId"] = copy_of
        # EC2 answers a repeated token with the volume it made first: a create step run again
        # elsewhere (a replica) while the tag lookup above does not list that volume yet makes
        # no second one (a copy's snapshot is new at each preparation: so is its token)
        request["ClientToken"] = f"{spec.gateway_id}:{copy_of}" if copy_of else spec.gateway_id
        with aws_call(f"create_volume for volume {spec.gateway_id}"):
            made_now = dict(self.ec2.create_volume(**request))
        named = self._named(made_now, spec.name or spec.gateway_id, labels)
        made = _volume_info(self._remember({**made_now, "Tags": named}, "VolumeId", named))
        if copy_of is not None:  # the new volume keeps its data without it, or any other
            for prepared in {copy_of, *self._preparations(spec)}:
                self.delete_snapshot(prepared)
        return made

    def _named(
        self, volume: dict[str, Any], name: str, labels: list[dict[str, str]]
    ) -> list[dict[str, str]]:
        """The new volume's tags with its ``Name`` as it is named at this attempt. Only a label
        for people: a volume EC2 would not name is still the volume made (logged, not raised)."""
        named = [{"Key": "Name", "Value": name[:255]}]
        try:
            self.ec2.create_tags(Resources=[volume["VolumeId"]], Tags=named)
        except (ClientError, BotoCoreError) as exc:
            log.warning("volume %s is not named: %s", volume["VolumeId"], translate(exc, "naming"))
            return labels
        return [*labels, *named]

    # -- a copy's snapshot --------------------------------------------------------------------

    def prepare_volume(self, spec: VolumeSpec) -> NativeRef | None:
        """A copy is made from a snapshot of its source (EBS copies volumes only so): started
        here, or the one a step run before started (this process remembers it, or EC2 lists
        it by the copy's gateway id and its source)."""
        if spec.source_volume is None or self._known_volume(spec) is not None:
            return None
        earlier = self._created_for(spec.gateway_id, "SnapshotId")
        if earlier is not None:
            return earlier
        listed = self._preparations(spec)
        if listed:
            return listed[0]
        labels = tags(self.region, spec.gateway_id, f"copy for volume {spec.gateway_id}")
        with aws_call(f"create_snapshot of volume {spec.source_volume} for a copy"):
            made = self.ec2.create_snapshot(
                VolumeId=spec.source_volume,
                Description=f"interstack copy for volume {spec.gateway_id}",
                TagSpecifications=tag_spec("snapshot", labels),
            )
        return NativeRef(str(self._remember(dict(made), "SnapshotId", labels)["SnapshotId"]))

    def _preparations(self, spec: VolumeSpec) -> list[NativeRef]:
        """The snapshots EC2 lists as taken of ``spec``'s source for it: more than one where a
        step run again started another while EC2 did not list the first yet (CreateSnapshot
        takes no ClientToken); the copy made, all go."""
        with aws_call(f"describe_snapshots of {spec.source_volume}"):
            listed = self.ec2.describe_snapshots(
                OwnerIds=["self"],
                Filters=[
                    *tag_filters(self.region, **{TAG_GATEWAY_ID: spec.gateway_id}),
                    {"Name": "volume-id", "Values": [str(spec.source_volume)]},
                ],
            )["Snapshots"]
        return [NativeRef(str(s["SnapshotId"])) for s in listed]

    def preparation_ready(self, prepared: NativeRef) -> bool:
        state = str(self._snapshot(prepared, settling=True)["State"])
        if state in ("pending", "completed"):
            return state == "completed"
        self.delete_snapshot(prepared)
        raise BackendError(f"EBS reports the snapshot {prepared} a copy is made from as {state}")

    def discard_preparation(self, spec: VolumeSpec) -> None:
        """Every snapshot taken of the source for the copy goes: the recorded one, the one this
        process remembers, and those EC2 lists by the copy's gateway id tag and its source (a
        step stopped before its task recorded the snapshot it took)."""
        made = (spec.prepared, self._created_for(spec.gateway_id, "SnapshotId"))
        listed = self._preparations(spec) if spec.source_volume is not None else []
        for prepared in {ref for ref in (*made, *listed) if ref is not None}:
            self.delete_snapshot(prepared)

    def get_volume(self, ref: NativeRef) -> VolumeInfo:
        return _volume_info(self._volume(ref, settling=True))

    def delete_volume(self, ref: NativeRef) -> None:
        try:
            volume = self._volume(ref)
        except NotFound:
            if self._stand_in(ref) is not None:  # not gone: EC2 does not know it yet
                raise self._not_deletable_yet(ref, "volume") from None
            return
        if _attachment(volume):
            raise Conflict(f"volume {ref} is attached; detach it first")
        with aws_call(f"describe_snapshots of {ref}"):
            snapshots = self.ec2.describe_snapshots(
                OwnerIds=["self"],
                Filters=[*tag_filters(self.region), {"Name": "volume-id", "Values": [ref]}],
            )["Snapshots"]
        if snapshots:
            raise Conflict(f"volume {ref} has {len(snapshots)} snapshot(s); delete them first")
        try:
            self.ec2.delete_volume(VolumeId=ref)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, f"delete_volume {ref}") from exc
        self._created.pop(ref, None)

    def extend_volume(self, ref: NativeRef, size_gb: int) -> VolumeInfo:
        volume = self._volume(ref)
        if size_gb <= int(volume["Size"]):
            raise BadRequest(f"volume {ref}: the new size must be larger than {volume['Size']} GB")
        if volume["State"] not in ("available", "in-use"):
            raise Conflict(f"volume {ref} cannot grow while it is {volume['State']}")
        with aws_call(f"modify_volume {ref}"):
            self.ec2.modify_volume(VolumeId=ref, Size=size_gb)
        return self.get_volume(ref)

    # -- snapshots ----------------------------------------------------------------------------

    def create_snapshot(self, spec: SnapshotSpec) -> SnapshotInfo:
        made = self._created_for(spec.gateway_id, "SnapshotId")
        if made is not None:
            return self.get_snapshot(made)
        with aws_call("describe_snapshots"):
            known = self.ec2.describe_snapshots(
                OwnerIds=["self"],
                Filters=tag_filters(self.region, **{TAG_GATEWAY_ID: spec.gateway_id}),
            )["Snapshots"]
        if known:
            return _snapshot_info(known[0])
        labels = tags(self.region, spec.gateway_id, spec.name or "")
        with aws_call(f"create_snapshot of volume {spec.volume}"):
            made_now = self.ec2.create_snapshot(
                VolumeId=spec.volume,
                Description=f"interstack snapshot {spec.gateway_id}",
                TagSpecifications=tag_spec("snapshot", labels),
            )
        return _snapshot_info(self._remember(dict(made_now), "SnapshotId", labels))

    def get_snapshot(self, ref: NativeRef) -> SnapshotInfo:
        return _snapshot_info(self._snapshot(ref, settling=True))

    def delete_snapshot(self, ref: NativeRef) -> None:
        try:
            self.ec2.delete_snapshot(SnapshotId=ref)
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, f"delete_snapshot {ref}") from exc
            if self._stand_in(ref) is not None:  # not gone: EC2 does not know it yet
                raise self._not_deletable_yet(ref, "snapshot") from exc
        self._created.pop(ref, None)

    # -- attachments --------------------------------------------------------------------------

    def attach_volume(
        self, volume: NativeRef, server: NativeRef, device: str | None = None
    ) -> AttachmentInfo:
        current = self._volume(volume)
        attached = _attachment(current)
        if attached is not None:
            if attached["InstanceId"] == server:
                return AttachmentInfo(volume, server, str(attached["Device"]))
            raise Conflict(f"volume {volume} is attached to another server")
        if current["State"] != "available":
            raise Conflict(f"volume {volume} is {current['State']}, not available")
        with aws_call(f"describe_instances {server}"):
            reply = self.ec2.describe_instances(InstanceIds=[server])["Reservations"]
        instance = reply[0]["Instances"][0]
        zone = instance.get("Placement", {}).get("AvailabilityZone")
        if zone and zone != current["AvailabilityZone"]:
            raise Conflict(
                f"volume {volume} is in {current['AvailabilityZone']} and the server in {zone}; "
                "EBS attaches within one zone (set availability_zone for the region)"
            )
        taken = {m["DeviceName"] for m in instance.get("BlockDeviceMappings", [])}
        name = ec2_device(device, taken)
        try:
            self.ec2.attach_volume(VolumeId=volume, InstanceId=server, Device=name)
        except ClientError as exc:
            if error_code(exc) != "VolumeInUse":
                raise translate(exc, f"attach_volume {volume} to {server}") from exc
            return self._attached_meanwhile(volume, server, exc)
        return AttachmentInfo(volume, server, name)  # EBS goes on: see attachment()

    def _attached_meanwhile(
        self, volume: NativeRef, server: NativeRef, refused: ClientError
    ) -> AttachmentInfo:
        """EC2 refused an attach as VolumeInUse though it described the volume unattached: a
        step run again (its payload never recorded) whose first attach EC2 did not describe yet.
        The attachment to ``server`` is the one asked for; another server's is a conflict;
        none described yet is looked at again in a later step (not a failed task while EBS
        attaches the volume)."""
        attached = _attachment(self._volume(volume))
        if attached is not None and attached["InstanceId"] == server:
            return AttachmentInfo(volume, server, str(attached["Device"]))
        if attached is not None:
            raise Conflict(f"volume {volume} is attached to another server")
        raise BackendUnavailable(
            f"EC2 refused attach_volume {volume} to {server} as {error_code(refused)} but does "
            "not describe its attachment yet; looked at again"
        ) from refused

    def detach_volume(self, volume: NativeRef, server: NativeRef) -> None:
        try:
            current = self._volume(volume)
        except NotFound:
            return
        attached = _attachment(current)
        if attached is None or attached["InstanceId"] != server:
            return
        with aws_call(f"detach_volume {volume} from {server}"):
            self.ec2.detach_volume(VolumeId=volume, InstanceId=server)

    def attachment(self, volume: NativeRef, server: NativeRef) -> AttachState:
        for attached in self._volume(volume).get("Attachments", []):
            if attached.get("InstanceId") == server:
                return _ATTACH_STATE.get(str(attached.get("State")), AttachState.DETACHED)
        return AttachState.DETACHED
