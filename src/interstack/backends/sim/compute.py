"""Simulated servers: lifecycles in the store, consoles made of plausible boot lines."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy.orm import Session

from interstack.backends.contract import (
    BootVolume,
    Capabilities,
    ComputeDriver,
    FlavorSpec,
    ImageDriver,
    ImageInfo,
    NativeRef,
    PowerAction,
    ServerInfo,
    ServerSpec,
    ServerStatus,
    VolumeStatus,
)
from interstack.backends.sim.settings import SimOperation, SimSettings
from interstack.backends.sim.state import Kind, SimState, ref
from interstack.errors import BackendError, Conflict, NotFound, NotSupported
from interstack.store.models import SimResource

S = ServerStatus

#: action -> (states it is allowed from, state it ends in, state while it happens)
TRANSITIONS: dict[
    PowerAction, tuple[frozenset[ServerStatus], ServerStatus, ServerStatus | None]
] = {
    PowerAction.START: (frozenset({S.STOPPED}), S.ACTIVE, None),
    PowerAction.STOP: (frozenset({S.ACTIVE, S.PAUSED, S.SUSPENDED, S.ERROR}), S.STOPPED, None),
    PowerAction.REBOOT: (frozenset({S.ACTIVE}), S.ACTIVE, S.REBOOTING),
    PowerAction.HARD_REBOOT: (
        frozenset({S.ACTIVE, S.STOPPED, S.PAUSED, S.SUSPENDED, S.ERROR}),
        S.ACTIVE,
        S.REBOOTING,
    ),
    PowerAction.PAUSE: (frozenset({S.ACTIVE}), S.PAUSED, None),
    PowerAction.UNPAUSE: (frozenset({S.PAUSED}), S.ACTIVE, None),
    PowerAction.SUSPEND: (frozenset({S.ACTIVE}), S.SUSPENDED, None),
    PowerAction.RESUME: (frozenset({S.SUSPENDED}), S.ACTIVE, None),
}

#: actions that need a capability beyond ``compute``
ACTION_CAPABILITY = {
    PowerAction.PAUSE: "pause",
    PowerAction.UNPAUSE: "pause",
    PowerAction.SUSPEND: "suspend",
    PowerAction.RESUME: "suspend",
}


def _info(row: SimResource) -> ServerInfo:
    return ServerInfo(
        ref=ref(row),
        gateway_id=row.gateway_id or "",
        status=S(row.status),
        fault=row.fault if row.status == S.ERROR else None,
    )


def _log(row: SimResource, *lines: str) -> None:
    row.data = {**row.data, "console": [*row.data.get("console", []), *lines]}


class SimCompute(ComputeDriver):
    def __init__(
        self,
        state: SimState,
        settings: SimSettings,
        capabilities: Capabilities,
        images: ImageDriver,
    ) -> None:
        self.state = state
        self.settings = settings
        self.capabilities = capabilities
        self.images = images

    def _require(self, capability: str) -> None:
        if capability not in self.capabilities.names():
            raise NotSupported(f"region {self.state.region} does not support {capability}")

    def _boot_volumes(self, session: Session, spec: ServerSpec) -> list[SimResource]:
        """The spec's volumes, each ``AVAILABLE`` and unattached (else ``Conflict``)."""
        wanted = [*([spec.root_volume] if spec.root_volume else []), *spec.volumes]
        if wanted:
            self._require("boot_from_volume")
        found = []
        for volume in wanted:
            row = self.state.get(session, Kind.VOLUME, volume.ref)
            if row.status != VolumeStatus.AVAILABLE or row.data.get("attached_to"):
                raise Conflict(f"volume {row.gateway_id} is {row.status}, not available")
            found.append(row)
        return found

    def _attach_at_boot(
        self, server: SimResource, rows: list[SimResource], wanted: list[BootVolume]
    ) -> None:
        devices = {row.ref: volume.device for row, volume in zip(rows, wanted, strict=True)}
        server.data = {**server.data, "volumes": devices}
        for row in rows:
            row.data = {**row.data, "attached_to": server.ref, "device": devices[row.ref]}
            self.state.set(row, VolumeStatus.IN_USE)

    def create_server(self, spec: ServerSpec) -> ServerInfo:
        self._require("compute")
        with self.state.session() as session:
            existing = self.state.by_gateway_id(session, Kind.SERVER, spec.gateway_id)
            if existing is not None:
                return _info(existing)
            volumes = self._boot_volumes(session, spec)
            # a server booted from a volume runs what the volume holds (its image, if any)
            disk = volumes[0].data.get("content") if spec.root_volume else spec.image
            row = self.state.new(
                session,
                Kind.SERVER,
                status=S.BUILDING,
                gateway_id=spec.gateway_id,
                name=spec.name,
                data={
                    "flavor": [spec.flavor.vcpus, spec.flavor.ram_mb, spec.flavor.disk_gb],
                    "image": disk,
                    "ports": list(spec.ports),
                    "volumes": {},
                    "local_disks": [asdict(d) for d in spec.local_disks],
                    "console": [f"[    0.000000] sim: booting {spec.name}"],
                },
            )
            root = [spec.root_volume] if spec.root_volume else []
            self._attach_at_boot(row, volumes, [*root, *spec.volumes])
            fault = self.settings.fault(SimOperation.CREATE_SERVER, spec.name)
            if fault is not None:
                row.fault = fault
                _log(row, f"[    1.000000] sim: boot failed: {fault}")
                self.state.schedule(row, S.ERROR, self.settings.boot_delay_seconds)
            else:
                _log(
                    row,
                    "[    1.000000] cloud-init: modules:final finished",
                    f"{spec.name} login: ",
                )
                self.state.schedule(row, S.ACTIVE, self.settings.boot_delay_seconds)
            return _info(row)

    def get_server(self, ref: NativeRef) -> ServerInfo:
        self._require("compute")
        with self.state.session() as session:
            return _info(self.state.get(session, Kind.SERVER, ref))

    def delete_server(self, ref: NativeRef) -> None:
        self._require("compute")
        with self.state.session() as session:
            row = self.state.find(session, Kind.SERVER, ref)
            if row is None:
                return
            for volume_ref in row.data.get("volumes", {}):
                volume = self.state.find(session, Kind.VOLUME, volume_ref)
                if volume is not None and volume.data.get("attached_to") == row.ref:
                    volume.data = {**volume.data, "attached_to": None, "device": None}
                    self.state.set(volume, "available")
            session.delete(row)

    def power_action(self, ref: NativeRef, action: PowerAction) -> ServerInfo:
        self._require("compute")
        if action in ACTION_CAPABILITY:
            self._require(ACTION_CAPABILITY[action])
        allowed, final, during = TRANSITIONS[action]
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            current = S(row.status)
            if current not in allowed or row.pending_status is not None:
                raise Conflict(
                    f"cannot {action.replace('_', ' ')} server {row.gateway_id} while it is "
                    f"{current}" + (" (a change is in progress)" if row.pending_status else "")
                )
            fault = self.settings.fault(SimOperation.POWER_ACTION, row.name)
            if fault is not None:
                raise BackendError(f"{action.replace('_', ' ')} failed: {fault}")
            _log(row, f"sim: {action}")
            delay = self.settings.action_delay_seconds
            if during is not None or delay > 0:
                self.state.set(row, during or current)
                self.state.schedule(row, final, delay)
                row.fault = None
            else:
                self.state.set(row, final)
            return _info(row)

    def resize_server(self, ref: NativeRef, flavor: FlavorSpec) -> ServerInfo:
        self._require("resize")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            current = S(row.status)
            if current not in (S.ACTIVE, S.STOPPED) or row.pending_status is not None:
                raise Conflict(f"cannot resize server {row.gateway_id} while it is {current}")
            row.data = {**row.data, "flavor": [flavor.vcpus, flavor.ram_mb, flavor.disk_gb]}
            _log(row, f"sim: resized to {flavor.vcpus} vcpus, {flavor.ram_mb} MB")
            delay = self.settings.action_delay_seconds
            if delay > 0:
                self.state.set(row, S.REBOOTING if current == S.ACTIVE else current)
                self.state.schedule(row, current, delay)
            return _info(row)

    def snapshot_server(self, ref: NativeRef, image_gateway_id: str) -> ImageInfo:
        """The simulated disk is the image the server booted from (or a line naming it)."""
        self._require("server_snapshots")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            base, name = row.data.get("image"), row.name
            _log(row, f"sim: snapshot as image {image_gateway_id}")
        try:
            source = self.images.open_image(NativeRef(base)) if base else None
        except NotFound:
            source = None  # the image was deleted since the boot, as Glance allows
        if source is None:
            return self.images.store_image(image_gateway_id, [f"sim disk of {name}\n".encode()])
        try:
            return self.images.store_image(image_gateway_id, source)
        finally:
            source.close()

    def attach_port(self, ref: NativeRef, port: NativeRef) -> None:
        self._require("interface_attach")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            ports: list[str] = list(row.data.get("ports", []))
            if port not in ports:
                row.data = {**row.data, "ports": [*ports, port]}
                _log(row, f"sim: interface {port} attached")

    def detach_port(self, ref: NativeRef, port: NativeRef) -> None:
        self._require("interface_attach")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            ports: list[str] = list(row.data.get("ports", []))
            if port in ports:
                row.data = {**row.data, "ports": [p for p in ports if p != port]}
                _log(row, f"sim: interface {port} detached")

    def set_admin_password(self, ref: NativeRef, password: str) -> None:
        """Accepted while the server runs; the console says so, the password is not kept."""
        self._require("set_admin_password")
        with self.state.session() as session:
            row = self.state.get(session, Kind.SERVER, ref)
            if row.status != S.ACTIVE or row.pending_status is not None:
                raise Conflict(
                    f"server {row.gateway_id} is not running; its guest cannot take a password"
                )
            _log(row, "sim: the administrator password was changed")

    def console_output(self, ref: NativeRef, length: int | None = None) -> str:
        self._require("console_output")
        with self.state.session() as session:
            lines: list[str] = self.state.get(session, Kind.SERVER, ref).data.get("console", [])
        if length is not None:
            lines = lines[-length:] if length > 0 else []
        return "".join(f"{line}\n" for line in lines)

    def list_servers(self) -> list[ServerInfo]:
        self._require("compute")
        with self.state.session() as session:
            return [_info(row) for row in self.state.all(session, Kind.SERVER)]
