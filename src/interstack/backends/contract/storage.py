"""Block storage (volumes, snapshots, attachments) and image data."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from interstack.backends.contract.common import ByteStream, NativeRef
from interstack.errors import NotSupported

#: why a volume no backend has room for failed, as Cinder's scheduler words it
#: (``NoValidBackend``)
NO_VALID_BACKEND = "No valid backend was found. No weighed backends available"


class VolumeStatus(StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    IN_USE = "in_use"
    DELETING = "deleting"
    ERROR = "error"


class AttachState(StrEnum):
    """Where a volume's attachment to one server stands (:meth:`BlockStorageDriver.attachment`)."""

    ATTACHING = "attaching"
    ATTACHED = "attached"
    DETACHING = "detaching"
    DETACHED = "detached"


@dataclass(frozen=True)
class VolumeSpec:
    gateway_id: str
    name: str
    project_id: str
    size_gb: int
    #: fill the volume from a snapshot or an image realized in this backend (else empty)
    snapshot: NativeRef | None = None
    image: NativeRef | None = None
    #: fill the volume with a copy of another volume of this backend (Cinder's ``source_volid``)
    source_volume: NativeRef | None = None
    #: what :meth:`BlockStorageDriver.prepare_volume` started for this volume, once ready
    prepared: NativeRef | None = None


@dataclass(frozen=True)
class VolumeInfo:
    ref: NativeRef
    gateway_id: str
    status: VolumeStatus
    size_gb: int
    #: the server it is attached to, if any
    attached_to: NativeRef | None = None
    fault: str | None = None


@dataclass(frozen=True)
class SnapshotSpec:
    gateway_id: str
    name: str
    volume: NativeRef


@dataclass(frozen=True)
class SnapshotInfo:
    ref: NativeRef
    gateway_id: str
    status: VolumeStatus  # CREATING -> AVAILABLE, or ERROR
    size_gb: int
    fault: str | None = None


@dataclass(frozen=True)
class AttachmentInfo:
    volume: NativeRef
    server: NativeRef
    #: the device name the guest sees, as far as the backend knows it (``/dev/vdb``)
    device: str


class BlockStorageDriver(abc.ABC):
    """Volumes and their snapshots, attached to servers of the same backend."""

    #: what the backend reports to Cinder's scheduler about itself (its ``volume_backend_name``,
    #: ``vendor_name``, ``storage_protocol``): a volume type whose extra specs ask for another
    #: value of one of them is one this backend cannot serve (Cinder's capabilities filter)
    reported_capabilities: Mapping[str, str] = {}

    @abc.abstractmethod
    def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        """Start creating a volume; ``get_volume`` reports ``AVAILABLE`` or ``ERROR`` later.

        A volume :meth:`prepare_volume` prepares for is made only from its ready preparation
        (``spec.prepared``); without it, such a spec raises ``BadRequest``. Idempotent on the
        gateway id; leaves nothing behind if it raises. A volume the backend has no room for
        raises ``BackendError`` with :data:`NO_VALID_BACKEND` (the volume goes to ``error``,
        as Cinder's does when its scheduler cannot place it).
        """

    def prepare_volume(self, spec: VolumeSpec) -> NativeRef | None:
        """Start what the volume must be made from, where the backend cannot make it in one
        call (EBS copies a volume through a snapshot of it: minutes for a large one); ``None``
        (this default) when :meth:`create_volume` makes it at once.

        The caller looks at :meth:`preparation_ready` (at the region's ``Polling``) until it
        is ready, then calls :meth:`create_volume` with ``spec.prepared`` set to it, which
        releases it once the volume is made; a caller that gives up calls
        :meth:`discard_preparation`. Idempotent on the gateway id as far as the backend can
        tell (a preparation it still knows of is answered again, not started twice).
        """
        return None

    def preparation_ready(self, prepared: NativeRef) -> bool:
        """Whether a preparation is done. Raises ``BackendError`` if it failed (nothing of it
        is then left)."""
        return True

    def discard_preparation(self, spec: VolumeSpec) -> None:
        """Let every preparation made for ``spec`` go (its volume will not be made): the one
        the caller recorded (``spec.prepared``, if any) and any a call before started that the
        caller never recorded (it stopped in between); gone already is not an error. Nothing
        to let go by default (nothing is prepared)."""
        return None

    @abc.abstractmethod
    def get_volume(self, ref: NativeRef) -> VolumeInfo:
        """The volume's current state. Raises ``NotFound`` once it is gone."""

    @abc.abstractmethod
    def delete_volume(self, ref: NativeRef) -> None:
        """Destroy the volume and its data. Raises ``Conflict`` while it is attached or has
        snapshots; deleting a volume that is already gone is not an error."""

    @abc.abstractmethod
    def create_snapshot(self, spec: SnapshotSpec) -> SnapshotInfo:
        """Start a point-in-time copy of the volume (which may be attached: crash-consistent).

        Idempotent on the gateway id; leaves nothing behind if it raises. A snapshot the
        backend has no room for raises ``BackendError`` with :data:`NO_VALID_BACKEND` (it goes
        to ``error``, as Cinder's scheduler leaves it).
        """

    @abc.abstractmethod
    def get_snapshot(self, ref: NativeRef) -> SnapshotInfo:
        """The snapshot's current state. Raises ``NotFound`` once it is gone."""

    @abc.abstractmethod
    def delete_snapshot(self, ref: NativeRef) -> None:
        """Destroy the snapshot; already gone is not an error."""

    @abc.abstractmethod
    def attach_volume(
        self, volume: NativeRef, server: NativeRef, device: str | None = None
    ) -> AttachmentInfo:
        """Start attaching an ``AVAILABLE`` volume to a server of this backend; returns once the
        backend has accepted it, with the device it gives.

        Postconditions: :meth:`attachment` reports ``ATTACHING`` or ``ATTACHED`` (a cloud
        takes seconds to minutes: the caller looks again at the region's ``Polling``, no
        step waits for it), then ``ATTACHED``, when ``get_volume`` reports ``IN_USE`` with
        ``attached_to == server``; ``DETACHED`` (after the region's
        ``Polling.settling_seconds``) if the backend gave up, the volume available again.
        Raises ``Conflict`` if the volume is attached elsewhere or the server's state forbids it
        (a running server without the ``volume_attach_hot`` capability). Attaching to the same
        server again (a step run again) returns the existing attachment, starting nothing.
        On failure the volume stays available.
        """

    @abc.abstractmethod
    def detach_volume(self, volume: NativeRef, server: NativeRef) -> None:
        """Start detaching the volume; returns once the backend has accepted it.

        Postconditions: :meth:`attachment` reports ``DETACHED`` once done (``DETACHING``
        meanwhile; for ``Polling.settling_seconds`` it may still report the attachment), the
        volume ``AVAILABLE``. Detaching a volume that is not attached to that server, or is
        being detached from it, is a no-op."""

    def attachment(self, volume: NativeRef, server: NativeRef) -> AttachState:
        """Where the volume's attachment to ``server`` stands, to follow :meth:`attach_volume`
        and :meth:`detach_volume`. This default, for backends that finish in those calls,
        reads ``get_volume``. Raises ``NotFound`` once the volume is gone."""
        info = self.get_volume(volume)
        if info.status is VolumeStatus.IN_USE and info.attached_to == server:
            return AttachState.ATTACHED
        return AttachState.DETACHED

    def extend_volume(self, ref: NativeRef, size_gb: int) -> VolumeInfo:
        """Grow the volume to ``size_gb``, keeping its data; it may be attached.

        Returns the state right after the request was accepted; ``get_volume`` reports the
        new ``size_gb`` once it is done, in the status the volume had before. Raises
        ``BadRequest`` if ``size_gb`` is not larger, ``Conflict`` in any other state than
        ``AVAILABLE``/``IN_USE``, and ``NotSupported`` without the ``volume_extend``
        capability (the default). A failed extension leaves the volume at its old size.
        """
        raise NotSupported(f"volume {ref}: this backend cannot extend volumes")

    def copy_volume_to_image(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        """Copy the volume's data into image data, stored as ``ImageDriver.store_image``
        stores it (usable as ``ServerSpec.image`` and ``VolumeSpec.image`` once this returns).

        The volume is left as it was. If this raises, nothing is left behind. Raises
        ``NotSupported`` without the ``volume_to_image`` capability (the default).
        """
        raise NotSupported(f"volume {ref}: this backend cannot copy volumes to images")


@dataclass(frozen=True)
class ImageInfo:
    ref: NativeRef
    gateway_id: str
    size: int
    #: empty where the backend cannot read the data it holds (an AMI)
    sha256: str
    #: False while the backend is still producing the data (a capture in progress)
    ready: bool = True
    #: what the bytes are, in Glance's terms, when the backend made them (a server's capture
    #: is in a format of the backend's choosing); None: what the image was registered as
    disk_format: str | None = None
    container_format: str | None = None


@dataclass(frozen=True)
class ProvidedImage:
    """An image the cloud brings (built or downloaded on first use), for the gateway to list
    in Glance as a public image whose data is ``ref``."""

    name: str
    ref: NativeRef
    disk_format: str
    container_format: str
    properties: Mapping[str, str] = field(default_factory=dict)


class ImageDriver(abc.ABC):
    """Image data, kept where the backend boots servers from it."""

    def provided_images(self) -> tuple[ProvidedImage, ...]:
        """The images the cloud brings (none by default: images are uploaded to Glance).

        Asked at start-up, whatever the ``images`` capability (upload and download) says, and
        again on image listings when :attr:`provided_images_refresh_seconds` is set; each
        ``ref`` is bootable as ``ServerSpec.image``.
        """
        return ()

    @property
    def provided_images_refresh_seconds(self) -> float | None:
        """How stale the provided images may get while the gateway runs (a cloud whose
        catalogue changes under it); ``None``: they are read once at start-up."""
        return None

    @abc.abstractmethod
    def store_image(self, gateway_id: str, data: Iterable[bytes]) -> ImageInfo:
        """Store the image's bytes, read chunk by chunk, and return its size and sha256.

        The image is usable as ``ServerSpec.image`` once this returns. If reading ``data`` or
        storing fails, the partial copy is removed before the error propagates. Storing again
        under the same gateway id replaces nothing: it raises ``Conflict`` (image data is
        immutable once stored).
        """

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
        """Store bytes uploaded to Glance, declared as ``disk_format`` in ``container_format``.

        As :meth:`store_image` (which this default calls: the bytes are kept as they are); a
        cloud that turns uploads into its own machine images by format (an AMI) overrides it,
        raising ``NotSupported`` for a format it cannot take. ``properties`` are the image's
        (Glance's ``architecture`` among them), for such a cloud to register its image with;
        a value it cannot honour is ``BadRequest`` before any data is read. ``size``: the
        length the client declared (``Content-Length``), if it did, for storage whose size is
        fixed before it is written; data of another length is ``BadRequest``.
        """
        return self.store_image(gateway_id, data)

    def finish_uploaded_image(
        self, gateway_id: str, ref: NativeRef, waited_seconds: float
    ) -> ImageInfo:
        """One look at an upload :meth:`store_uploaded_image` answered with ``ready=False``
        (the bytes are in the cloud, which is still making its image of them), asked again
        until ready; ``waited_seconds`` since that answer.

        Ready: the image's final ``ref``. Not ready: the ref to look at next time (it may
        change, a snapshot becoming a machine image). ``size``/``sha256`` are those of the
        first answer (the caller keeps them). Raises when the cloud failed or took too long;
        :meth:`abandon_uploaded_image` then removes what was made. Only a backend that answers
        ``ready=False`` is ever asked.
        """
        raise NotSupported(f"image {gateway_id}: this backend stores uploads at once")

    def abandon_uploaded_image(self, gateway_id: str, ref: NativeRef) -> None:
        """Remove what an upload that will not finish left (its last ``ref``); already gone is
        fine."""
        self.delete_image(ref)

    @abc.abstractmethod
    def open_image(self, ref: NativeRef) -> ByteStream:
        """The stored bytes, in chunks. Raises ``NotFound`` for an unknown image."""

    @abc.abstractmethod
    def delete_image(self, ref: NativeRef) -> None:
        """Remove the image data; servers booted from it keep running. Already gone is fine."""
