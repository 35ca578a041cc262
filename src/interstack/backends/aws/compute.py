"""Servers as EC2 instances.

- Boot: ``run_instances`` with the flavor's instance type, the image's AMI (or the region's
  ``default_image``), the ports' ENIs (or the account's default VPC when a server has none),
  user data, and tags: the gateway id (also as ``openstack_id``), the project, the server's
  metadata as ``meta:<key>``. A retried boot is one boot without a describe first: this process
  remembers what it launched for each server, and ``ClientToken`` is the gateway id (EC2
  answers a repeated token with the instance it launched; moto ignores tokens).
- EC2's describes are eventually consistent: an instance launched moments ago may be answered
  ``InvalidInstanceID.NotFound``. The driver says so (``NotFound`` with EC2's code); the boot
  task, which recorded when it launched the instance, looks again within the region's
  ``Polling.settling_seconds`` (a restarted gateway too: nothing of it is in this memory).
- Key pairs: the server's public key is imported as an EC2 key pair of its own, named after the
  server, and deleted with it (nothing leaks when the Nova key pair is deleted later).
- Power: stop/start/reboot map one to one. EC2 has no pause or suspend; both stop the instance
  and an ``interstack:power`` tag remembers which, so the server reports ``PAUSED`` or
  ``SUSPENDED`` and only unpause/resume brings it back.
- createImage: an AMI of the instance (``create_image`` without a reboot), see ``images.py``.
- Resize: stop, change the type, start again if it ran; an ``interstack:resize`` tag carries the
  plan and each ``get_server`` advances it, so a restarted gateway finishes the job.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from interstack.backends.aws.client import (
    TAG_GATEWAY_ID,
    TAG_OPENSTACK_ID,
    TAG_PROJECT,
    aws_call,
    error_code,
    is_not_found,
    tag_filters,
    tag_spec,
    tag_value,
    tags,
    translate,
)
from interstack.backends.aws.images import AwsImages
from interstack.backends.aws.instance_types import InstanceTypes
from interstack.backends.aws.settings import AwsSettings
from interstack.backends.contract import (
    ComputeDriver,
    FlavorSpec,
    ImageInfo,
    NativeRef,
    NativeSize,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
)
from interstack.errors import BadRequest, Conflict, InterstackError, NotFound

S = ServerStatus
TAG_POWER = "interstack:power"
TAG_RESIZE = "interstack:resize"
#: EC2 allows 50 tags per resource; interstack's own take a few
MAX_METADATA_TAGS = 40
#: the tags showing a server's metadata: one per item, its key after this prefix
META_TAG_PREFIX = "meta:"
_GONE = {"shutting-down", "terminated"}
_EC2_STATE = {
    "pending": S.BUILDING,
    "running": S.ACTIVE,
    "stopping": S.STOPPED,
    "stopped": S.STOPPED,
}
#: action -> (states it is allowed from, what the ``interstack:power`` tag becomes)
_ALLOWED: dict[PowerAction, frozenset[ServerStatus]] = {
    PowerAction.START: frozenset({S.STOPPED}),
    PowerAction.STOP: frozenset({S.ACTIVE, S.PAUSED, S.SUSPENDED, S.ERROR}),
    PowerAction.REBOOT: frozenset({S.ACTIVE}),
    PowerAction.HARD_REBOOT: frozenset({S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED, S.ERROR}),
    PowerAction.PAUSE: frozenset({S.ACTIVE}),
    PowerAction.UNPAUSE: frozenset({S.PAUSED}),
    PowerAction.SUSPEND: frozenset({S.ACTIVE}),
    PowerAction.RESUME: frozenset({S.SUSPENDED}),
}


def _metadata_tags(metadata: Mapping[str, str]) -> dict[str, str]:
    """The ``meta:<key>`` tags of a server's metadata (EC2's key and value lengths; at most
    :data:`MAX_METADATA_TAGS`, the rest of EC2's 50 tags are interstack's own)."""
    items = list(metadata.items())[:MAX_METADATA_TAGS]
    return {f"{META_TAG_PREFIX}{k}"[:128]: v[:256] for k, v in items}


def key_name_for(gateway_id: str) -> str:
    return f"interstack-{gateway_id}"


def _status(instance: dict[str, Any]) -> ServerStatus:
    state = str(instance["State"]["Name"])
    plan = tag_value(instance, TAG_RESIZE)
    if plan:
        return S.STOPPED if plan.endswith(":stay") else S.REBOOTING
    status = _EC2_STATE.get(state, S.ERROR)
    intent = tag_value(instance, TAG_POWER)
    if status is S.STOPPED and intent in (S.PAUSED, S.SUSPENDED):
        return S(intent)
    return status


def _info(instance: dict[str, Any]) -> ServerInfo:
    status = _status(instance)
    fault = None
    if status is S.ERROR:
        reason = instance.get("StateReason", {}).get("Message") or instance["State"]["Name"]
        fault = f"EC2 reports the instance as {reason}"
    return ServerInfo(
        ref=NativeRef(instance["InstanceId"]),
        gateway_id=tag_value(instance, TAG_GATEWAY_ID) or "",
        status=status,
        fault=fault,
    )


@dataclass(frozen=True)
class Launched:
    """An instance this process launched: for which server, with which key pair."""

    gateway_id: str
    key: str | None


class AwsCompute(ComputeDriver):
    def __init__(self, ec2: Any, region: str, settings: AwsSettings, images: AwsImages) -> None:
        self.ec2 = ec2
        self.region = region
        self.settings = settings
        self.images = images
        self.instance_types = InstanceTypes(ec2, region, settings.instance_types)
        self._root_disks: dict[str, tuple[str, int] | None] = {}
        #: instances launched here, until deleted here: a retried boot finds it, and its
        #: deletion needs no describe to know its key pair
        self._launched: dict[str, Launched] = {}

    def native_sizes(self) -> tuple[NativeSize, ...]:
        """The configured instance types, as ``describe_instance_types`` gives them."""
        return self.instance_types.all()

    # -- lookups ------------------------------------------------------------------------------

    def _instances(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        with aws_call("describe_instances"):
            for page in self.ec2.get_paginator("describe_instances").paginate(Filters=filters):
                for reservation in page.get("Reservations", []):
                    found += [
                        i for i in reservation["Instances"] if i["State"]["Name"] not in _GONE
                    ]
        return found

    def _by_gateway_id(self, gateway_id: str) -> dict[str, Any] | None:
        matches = self._instances(tag_filters(self.region, **{TAG_GATEWAY_ID: gateway_id}))
        return matches[0] if matches else None

    def _instance(self, ref: NativeRef) -> dict[str, Any]:
        """The live instance."""
        instance = self._described(ref)
        if instance["State"]["Name"] in _GONE:
            raise NotFound(f"server {ref} does not exist in AWS (terminated)")
        return instance

    def _described(self, ref: NativeRef) -> dict[str, Any]:
        """The instance as EC2 describes it, terminating or terminated ones too."""
        missing: InterstackError = NotFound(f"server {ref} does not exist in AWS")
        try:
            reply = self.ec2.describe_instances(InstanceIds=[ref])
        except ClientError as exc:
            missing = translate(exc, f"describe_instances {ref}")  # with EC2's code
            if not is_not_found(exc):
                raise missing from exc
            reply = {}
        instances = [i for r in reply.get("Reservations", []) for i in r["Instances"]]
        if not instances:
            raise missing
        return dict(instances[0])

    # -- boot ---------------------------------------------------------------------------------

    def _image(self, spec: ServerSpec) -> str:
        image = spec.image or self.settings.default_image
        if image is None:
            raise BadRequest(
                f"region {self.region}: the image has no AMI and no default_image is configured"
            )
        return str(image)

    def _root_disk(self, image_id: str) -> tuple[str, int] | None:
        """The AMI's root EBS device and its size in GiB (``None``: not EBS-backed), looked up
        once per AMI: EC2 never changes an AMI's block device mappings."""
        if image_id not in self._root_disks:
            with aws_call(f"describe_images {image_id}"):
                images = self.ec2.describe_images(ImageIds=[image_id]).get("Images", [])
            if not images:
                raise BadRequest(f"AMI {image_id} does not exist in {self.settings.aws_region}")
            image = images[0]
            root = image.get("RootDeviceName")
            if not root or image.get("RootDeviceType") != "ebs":
                self._root_disks[image_id] = None
            else:
                size = max(
                    (
                        int(m["Ebs"].get("VolumeSize", 0))
                        for m in image.get("BlockDeviceMappings", [])
                        if m.get("DeviceName") == root and "Ebs" in m
                    ),
                    default=0,
                )
                self._root_disks[image_id] = (str(root), size)
        return self._root_disks[image_id]

    def _root_device(self, image_id: str, disk_gb: int) -> list[dict[str, Any]]:
        """The root EBS volume sized to the flavor (never below the AMI's own size)."""
        root = self._root_disk(image_id)
        if disk_gb <= 0 or root is None:
            return []
        device, ami_size = root
        size = max(disk_gb, ami_size)
        return [{"DeviceName": device, "Ebs": {"VolumeSize": size, "DeleteOnTermination": True}}]

    def _import_key(self, spec: ServerSpec) -> str | None:
        if not spec.public_key:
            return None
        name = key_name_for(spec.gateway_id)
        try:
            self.ec2.import_key_pair(
                KeyName=name,
                PublicKeyMaterial=spec.public_key.encode(),
                TagSpecifications=tag_spec("key-pair", tags(self.region, spec.gateway_id, name)),
            )
        except ClientError as exc:
            if "Duplicate" not in str(exc.response.get("Error", {}).get("Code", "")):
                raise translate(exc, f"import_key_pair for {spec.key_name}") from exc
        return name

    def _delete_key(self, gateway_id: str) -> None:
        with aws_call("delete_key_pair"):
            self.ec2.delete_key_pair(KeyName=key_name_for(gateway_id))

    def _tags(self, spec: ServerSpec) -> list[dict[str, str]]:
        meta = _metadata_tags(spec.metadata)
        extra = {TAG_OPENSTACK_ID: spec.gateway_id, TAG_PROJECT: spec.project_id, **meta}
        return tags(self.region, spec.gateway_id, spec.name, **extra)

    def set_server_metadata(self, ref: NativeRef, metadata: Mapping[str, str]) -> None:
        """The instance's ``meta:`` tags made the metadata's (the others left as they are)."""
        shown = {
            t["Key"]: t["Value"]
            for t in self._instance(ref).get("Tags", [])
            if str(t["Key"]).startswith(META_TAG_PREFIX)
        }
        wanted = _metadata_tags(metadata)
        stale = [{"Key": key} for key in shown if key not in wanted]
        changed = [{"Key": k, "Value": v} for k, v in wanted.items() if shown.get(k) != v]
        with aws_call(f"tag {ref} with its metadata"):
            if stale:
                self.ec2.delete_tags(Resources=[ref], Tags=stale)
            if changed:
                self.ec2.create_tags(Resources=[ref], Tags=changed)

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        booted = next(
            (ref for ref, seen in self._launched.items() if seen.gateway_id == spec.gateway_id),
            None,
        )
        if booted is not None:  # a retried boot
            try:
                return _info(self._instance(NativeRef(booted)))
            except NotFound:
                del self._launched[booted]
        instance_type = self.instance_types.for_flavor(spec.flavor)
        image = self._image(spec)
        request: dict[str, Any] = {
            "ImageId": image,
            "InstanceType": instance_type.name,
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": spec.gateway_id,
            "TagSpecifications": tag_spec("instance", self._tags(spec))
            + tag_spec("volume", self._tags(spec)),
            "BlockDeviceMappings": self._root_device(image, spec.flavor.disk_gb),
        }
        if spec.ports:
            request["NetworkInterfaces"] = [
                {"NetworkInterfaceId": port, "DeviceIndex": index}
                for index, port in enumerate(spec.ports)
            ]
        elif self.settings.availability_zone:
            request["Placement"] = {"AvailabilityZone": self.settings.availability_zone}
        if spec.user_data:
            request["UserData"] = spec.user_data
        key = self._import_key(spec)
        if key:
            request["KeyName"] = key
        try:
            launched = self._run(request, spec.gateway_id)
        except ClientError as exc:
            if key:
                self._delete_key(spec.gateway_id)
            raise translate(exc, f"run_instances for server {spec.gateway_id}") from exc
        self._launched[launched["InstanceId"]] = Launched(spec.gateway_id, key)
        return _info(launched)

    def _run(self, request: dict[str, Any], gateway_id: str) -> dict[str, Any]:
        """``run_instances``, idempotent on the server id for a retried boot. A server booted
        before (a rebuild) finds EC2 answering its old token with the terminated instance, or
        with ``IdempotentParameterMismatch`` for another image: unless a live instance of it
        exists already (a retried rebuild), it boots with a token of its own.
        """
        try:
            launched: dict[str, Any] = self.ec2.run_instances(**request)["Instances"][0]
            if launched["State"]["Name"] not in _GONE:
                return launched
        except ClientError as exc:
            if error_code(exc) != "IdempotentParameterMismatch":
                raise
        existing = self._by_gateway_id(gateway_id)
        if existing is not None:
            return existing
        fresh = {**request, "ClientToken": f"{request['ClientToken']}-{uuid.uuid4().hex[:16]}"}
        again: dict[str, Any] = self.ec2.run_instances(**fresh)["Instances"][0]
        return again

    # -- state --------------------------------------------------------------------------------

    def get_server(self, ref: NativeRef) -> ServerInfo:
        """The server; one ``shutting-down`` is ``DELETED`` but not gone yet: EC2 refuses to
        delete its network interfaces (``InvalidNetworkInterface.InUse``) and detaches its
        volumes only once it is ``terminated``, so the delete task waits for that."""
        instance = self._described(ref)
        state = instance["State"]["Name"]
        if state == "shutting-down":
            gateway_id = tag_value(instance, TAG_GATEWAY_ID) or ""
            return ServerInfo(ref=ref, gateway_id=gateway_id, status=S.DELETED)
        if state in _GONE:
            raise NotFound(f"server {ref} does not exist in AWS (terminated)")
        if tag_value(instance, TAG_RESIZE):
            instance = self._advance_resize(instance)
        return _info(instance)

    def list_servers(self) -> list[ServerInfo]:
        filters = [*tag_filters(self.region), {"Name": "tag-key", "Values": [TAG_GATEWAY_ID]}]
        return [_info(i) for i in self._instances(filters)]

    def delete_server(self, ref: NativeRef) -> None:
        """Terminate the instance and delete the key pair imported for it: one known from its
        boot here is terminated at once, any other is described first to find its key pair."""
        launched = self._launched.pop(ref, None)
        if launched is not None:
            key = launched.key
        else:
            try:
                instance = self._instance(ref)
            except NotFound:
                return
            gateway_id = tag_value(instance, TAG_GATEWAY_ID)
            own = key_name_for(gateway_id) if gateway_id else None
            key = own if own and instance.get("KeyName") == own else None
        try:
            self.ec2.terminate_instances(InstanceIds=[ref])
        except ClientError as exc:
            if not is_not_found(exc):
                raise translate(exc, f"terminate_instances {ref}") from exc
        if key:
            with aws_call(f"delete_key_pair {key}"):
                self.ec2.delete_key_pair(KeyName=key)

    def _set_power_tag(self, ref: NativeRef, intent: str | None) -> None:
        with aws_call(f"tagging {ref}"):
            if intent is None:
                self.ec2.delete_tags(Resources=[ref], Tags=[{"Key": TAG_POWER}])
            else:
                self.ec2.create_tags(Resources=[ref], Tags=[{"Key": TAG_POWER, "Value": intent}])

    def power_action(self, ref: NativeRef, action: PowerAction) -> ServerInfo:
        instance = self._instance(ref)
        current = _status(instance)
        if current not in _ALLOWED[action] or tag_value(instance, TAG_RESIZE):
            raise Conflict(
                f"cannot {action.replace('_', ' ')} server "
                f"{tag_value(instance, TAG_GATEWAY_ID)} while it is {current}"
            )
        ids = [ref]
        with aws_call(f"{action} {ref}"):
            if action in (PowerAction.PAUSE, PowerAction.SUSPEND):
                intent = S.PAUSED if action is PowerAction.PAUSE else S.SUSPENDED
                self._set_power_tag(ref, intent)
                self.ec2.stop_instances(InstanceIds=ids)
            elif action is PowerAction.STOP:
                self.ec2.stop_instances(InstanceIds=ids)
                self._set_power_tag(ref, None)
            elif (
                action is PowerAction.REBOOT
                or (action is PowerAction.HARD_REBOOT and current is S.ACTIVE)
                or (action is PowerAction.HARD_REBOOT and current is S.ERROR)
            ):
                self.ec2.reboot_instances(InstanceIds=ids)
            else:  # start, unpause, resume, a hard reboot of a stopped server
                self._set_power_tag(ref, None)
                self.ec2.start_instances(InstanceIds=ids)
        return _info(self._instance(ref))

    def resize_server(self, ref: NativeRef, flavor: FlavorSpec) -> ServerInfo:
        instance = self._instance(ref)
        current = _status(instance)
        if current not in (S.ACTIVE, S.STOPPED) or tag_value(instance, TAG_RESIZE):
            raise Conflict(f"cannot resize server {ref} while it is {current}")
        target = self.instance_types.for_flavor(flavor).name
        plan = f"{target}:{'resume' if current is S.ACTIVE else 'stay'}"
        with aws_call(f"resize {ref}"):
            self.ec2.create_tags(Resources=[ref], Tags=[{"Key": TAG_RESIZE, "Value": plan}])
            if current is S.ACTIVE:
                self.ec2.stop_instances(InstanceIds=[ref])
        return self.get_server(ref)

    def _advance_resize(self, instance: dict[str, Any]) -> dict[str, Any]:
        """One step of a resize: once stopped, change the type and start it if it ran."""
        if instance["State"]["Name"] != "stopped":
            return instance
        ref = instance["InstanceId"]
        target, _, then = str(tag_value(instance, TAG_RESIZE)).partition(":")
        with aws_call(f"resize {ref} to {target}"):
            if instance["InstanceType"] != target:
                self.ec2.modify_instance_attribute(InstanceId=ref, InstanceType={"Value": target})
            if then == "resume":
                self.ec2.start_instances(InstanceIds=[ref])
            self.ec2.delete_tags(Resources=[ref], Tags=[{"Key": TAG_RESIZE}])
        return self._instance(ref)

    def snapshot_server(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        return self.images.capture(ref, image_gateway_id, lambda: self._instance(ref))

    def console_output(self, ref: NativeRef, length: int | None = None) -> str:
        self._instance(ref)
        with aws_call(f"get_console_output {ref}"):
            output = str(self.ec2.get_console_output(InstanceId=ref).get("Output") or "")
        lines = output.replace("\r\n", "\n").splitlines()
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "".join(f"{line}\n" for line in lines)
