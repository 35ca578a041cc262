"""Simulated volumes and snapshots (rows only), and image data (files, streamed)."""

from __future__ import annotations

import string
import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from interstack.backends.contract import (
    AttachmentInfo,
    BlockStorageDriver,
    ByteStream,
    Capabilities,
    ImageDriver,
    ImageInfo,
    NativeRef,
    ServerStatus,
    SnapshotInfo,
    SnapshotSpec,
    VolumeInfo,
    VolumeSpec,
    VolumeStatus,
)
from interstack.backends.contract.files import open_stream, write_atomically
from interstack.backends.sim.settings import SimOperation, SimSettings
from interstack.backends.sim.state import Kind, SimState, ref
from interstack.errors import BackendError, BadRequest, Conflict, NotFound, NotSupported
from interstack.store.models import SimResource

V = VolumeStatus


def _volume(row: SimResource) -> VolumeInfo:
    attached = row.data.get("attached_to")
    return VolumeInfo(
        ref=ref(row),
        gateway_id=row.gateway_id or "",
        status=V(row.status),
        size_gb=int(row.data["size_gb"]),
        attached_to=NativeRef(attached) if attached else None,
        fault=row.fault if row.status == V.ERROR else None,
    )


def _snapshot(row: SimResource) -> SnapshotInfo:
    return SnapshotInfo(
        ref=ref(row),
        gateway_id=row.gateway_id or "",
        status=V(row.status),
        size_gb=int(row.data["size_gb"]),
        fault=row.fault if row.status == V.ERROR else None,
    )


class _Guarded:
    def __init__(self, state: SimState, settings: SimSettings, capabilities: Capabilities) -> None:
        self.state = state
        self.settings = settings
        self.capabilities = capabilities

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities.names():
            raise NotSupported(f"region {self.state.region} does not support {capability}")


def _content_of(state: SimState, session: Session, spec: VolumeSpec) -> str | None:
    """A simulated volume holds no bytes; it remembers the image its data would come from."""
    if spec.snapshot is not None:
        return state.get(session, Kind.SNAPSHOT, spec.snapshot).data.get("content")
    if spec.source_volume is not None:
        return state.get(session, Kind.VOLUME, spec.source_volume).data.get("content")
    if spec.image is not None:
        return state.get(session, Kind.IMAGE, spec.image).ref
    return None


class SimBlockStorage(_Guarded, BlockStorageDriver):
    """Volumes as rows. A volume's data is the image it was filled from (through snapshots
    and clones), or nothing; copying it to an image copies that image's bytes."""

    #: what Cinder's scheduler would be told of this backend (volume types ask by these)
    reported_capabilities = {
        "volume_backend_name": "sim",
        "vendor_name": "interstack",
        "storage_protocol": "sim",
    }

    def __init__(
        self, state: SimState, settings: SimSettings, capabilities: Capabilities, images: SimImages
    ) -> None:
        super().__init__(state, settings, capabilities)
        self.images = images

    def _start(self, row: SimResource, operation: SimOperation, delay: float) -> None:
        fault = self.settings.fault(operation, row.name)
        row.fault = fault
        self.state.schedule(row, V.ERROR if fault else V.AVAILABLE, delay)

    def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        self._require("volumes")
        with self.state.session() as session:
            existing = self.state.by_gateway_id(session, Kind.VOLUME, spec.gateway_id)
            if existing is not None:
                return _volume(existing)
            content = _content_of(self.state, session, spec)
            row = self.state.new(
                session,
                Kind.VOLUME,
                status=V.CREATING,
                gateway_id=spec.gateway_id,
                name=spec.name,
                data={
                    "size_gb": spec.size_gb,
                    "attached_to": None,
                    "device": None,
                    "content": content,
                },
            )
            self._start(row, SimOperation.CREATE_VOLUME, self.settings.volume_delay_seconds)
            return _volume(row)

    def get_volume(self, ref: NativeRef) -> VolumeInfo:
        self._require("volumes")
        with self.state.session() as session:
            return _volume(self.state.get(session, Kind.VOLUME, ref))

    def delete_volume(self, ref: NativeRef) -> None:
        self._require("volumes")
        with self.state.session() as session:
            row = self.state.find(session, Kind.VOLUME, ref)
            if row is None:
                return
            if row.data.get("attached_to"):
                raise Conflict(f"volume {row.gateway_id} is attached to a server")
            if self.state.children(session, Kind.SNAPSHOT, row.ref):
                raise Conflict(f"volume {row.gateway_id} has snapshots")
            session.delete(row)

    def create_snapshot(self, spec: SnapshotSpec) -> SnapshotInfo:
        self._require("snapshots")
        with self.state.session() as session:
            existing = self.state.by_gateway_id(session, Kind.SNAPSHOT, spec.gateway_id)
            if existing is not None:
                return _snapshot(existing)
            volume = self.state.get(session, Kind.VOLUME, spec.volume)
            if volume.status not in (V.AVAILABLE, V.IN_USE):
                raise Conflict(f"cannot snapshot volume {volume.gateway_id} while {volume.status}")
            row = self.state.new(
                session,
                Kind.SNAPSHOT,
                status=V.CREATING,
                gateway_id=spec.gateway_id,
                name=spec.name,
                parent=volume.ref,
                data={"size_gb": volume.data["size_gb"], "content": volume.data.get("content")},
            )
            self._start(row, SimOperation.CREATE_SNAPSHOT, self.settings.snapshot_delay_seconds)
            return _snapshot(row)

    def get_snapshot(self, ref: NativeRef) -> SnapshotInfo:
        self._require("snapshots")
        with self.state.session() as session:
            return _snapshot(self.state.get(session, Kind.SNAPSHOT, ref))

    def delete_snapshot(self, ref: NativeRef) -> None:
        self._require("snapshots")
        with self.state.session() as session:
            row = self.state.find(session, Kind.SNAPSHOT, ref)
            if row is not None:
                session.delete(row)

    def attach_volume(
        self, volume: NativeRef, server: NativeRef, device: str | None = None
    ) -> AttachmentInfo:
        self._require("volumes")
        with self.state.session() as session:
            vol = self.state.get(session, Kind.VOLUME, volume)
            srv = self.state.get(session, Kind.SERVER, server)
            attached = vol.data.get("attached_to")
            if attached == srv.ref:
                return AttachmentInfo(volume=volume, server=server, device=vol.data["device"])
            if attached or vol.status != V.AVAILABLE:
                raise Conflict(f"volume {vol.gateway_id} is {vol.status}, not available")
            usable = {ServerStatus.ACTIVE, ServerStatus.STOPPED}
            if srv.status not in usable or srv.pending_status is not None:
                raise Conflict(
                    f"cannot attach a volume to server {srv.gateway_id} while it is {srv.status}"
                )
            if srv.status == ServerStatus.ACTIVE and "volume_attach_hot" not in (
                self.capabilities.names()
            ):
                raise Conflict(f"server {srv.gateway_id} must be stopped to attach a volume")
            fault = self.settings.fault(SimOperation.ATTACH_VOLUME, vol.name)
            if fault is not None:
                raise BackendError(f"attaching volume {vol.gateway_id} failed: {fault}")
            devices: dict[str, str] = dict(srv.data.get("volumes", {}))
            if device is None or device in devices.values():
                taken = {d.removeprefix("/dev/vd") for d in devices.values()}
                letter = next(c for c in string.ascii_lowercase[1:] if c not in taken)
                device = f"/dev/vd{letter}"
            devices[vol.ref] = device
            srv.data = {**srv.data, "volumes": devices}
            vol.data = {**vol.data, "attached_to": srv.ref, "device": device}
            self.state.set(vol, V.IN_USE)
            return AttachmentInfo(volume=volume, server=server, device=device)

    def detach_volume(self, volume: NativeRef, server: NativeRef) -> None:
        self._require("volumes")
        with self.state.session() as session:
            vol = self.state.get(session, Kind.VOLUME, volume)
            if vol.data.get("attached_to") != server:
                return
            srv = self.state.find(session, Kind.SERVER, server)
            if srv is not None:
                devices = dict(srv.data.get("volumes", {}))
                devices.pop(vol.ref, None)
                srv.data = {**srv.data, "volumes": devices}
            vol.data = {**vol.data, "attached_to": None, "device": None}
            self.state.set(vol, V.AVAILABLE)

    def extend_volume(self, ref: NativeRef, size_gb: int) -> VolumeInfo:
        self._require("volume_extend")
        with self.state.session() as session:
            vol = self.state.get(session, Kind.VOLUME, ref)
            if vol.status not in (V.AVAILABLE, V.IN_USE):
                raise Conflict(f"cannot extend volume {vol.gateway_id} while {vol.status}")
            if size_gb <= int(vol.data["size_gb"]):
                raise BadRequest(
                    f"volume {vol.gateway_id} has {vol.data['size_gb']} GiB; "
                    f"{size_gb} GiB would not extend it"
                )
            fault = self.settings.fault(SimOperation.EXTEND_VOLUME, vol.name)
            if fault is not None:
                raise BackendError(fault)
            vol.data = {**vol.data, "size_gb": size_gb}
            self.state.set(vol, vol.status)
            return _volume(vol)

    def copy_volume_to_image(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        self._require("volume_to_image")
        with self.state.session() as session:
            vol = self.state.get(session, Kind.VOLUME, ref)
            content = vol.data.get("content")
        source: Iterable[bytes] = ()
        if content is not None:
            try:
                source = self.images.open_image(NativeRef(content))
            except NotFound:
                source = ()  # the image it came from is gone; the simulation keeps no copy
        try:
            return self.images.store_image(image_gateway_id, source)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()


class SimImages(_Guarded, ImageDriver):
    def __init__(
        self, state: SimState, settings: SimSettings, capabilities: Capabilities, root: Path
    ) -> None:
        super().__init__(state, settings, capabilities)
        self.root = root

    def store_image(self, gateway_id: str, data: Iterable[bytes]) -> ImageInfo:
        self._require("images")
        with self.state.session() as session:
            if self.state.by_gateway_id(session, Kind.IMAGE, gateway_id) is not None:
                raise Conflict(f"image {gateway_id} already has data")
        fault = self.settings.fault(SimOperation.STORE_IMAGE, gateway_id)
        if fault is not None:
            raise BackendError(f"storing image {gateway_id} failed: {fault}")
        path = self.root / f"{uuid.uuid4().hex}.img"
        written = write_atomically(path, data)
        try:
            with self.state.session() as session:
                row = self.state.new(
                    session,
                    Kind.IMAGE,
                    status="stored",
                    gateway_id=gateway_id,
                    data={"size": written.size, "sha256": written.sha256, "file": path.name},
                )
                return ImageInfo(
                    ref=ref(row), gateway_id=gateway_id, size=written.size, sha256=written.sha256
                )
        except IntegrityError as exc:
            path.unlink(missing_ok=True)
            raise Conflict(f"image {gateway_id} already has data") from exc

    def open_image(self, ref: NativeRef) -> ByteStream:
        self._require("images")
        with self.state.session() as session:
            row = self.state.get(session, Kind.IMAGE, ref)
            path = self.root / row.data["file"]
        try:
            return open_stream(path, self.settings.chunk_size)
        except FileNotFoundError as exc:
            raise NotFound(f"image {ref} has no data") from exc

    def delete_image(self, ref: NativeRef) -> None:
        self._require("images")
        with self.state.session() as session:
            row = self.state.find(session, Kind.IMAGE, ref)
            if row is None:
                return
            (self.root / row.data["file"]).unlink(missing_ok=True)
            session.delete(row)
