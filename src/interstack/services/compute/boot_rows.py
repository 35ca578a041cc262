"""The rows a server create writes for each server, in the request's transaction: the server's
row (its flavor as it keeps it), its create action and its boot task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from interstack.backends.contract import LocalDisk
from interstack.services.compute.boot_request import BootRequest
from interstack.services.compute.common import record_action, started_event
from interstack.services.compute.local_disks import stored
from interstack.services.compute.records import Flavor
from interstack.services.compute.server_statements import INSERT_SERVER, action_payload
from interstack.services.compute.server_tasks import BOOT
from interstack.services.compute.state import PowerState, TaskState, VmState
from interstack.services.context import RequestContext
from interstack.services.interfaces import BootImage, ReservedBootVolumes, ServerPort
from interstack.services.tasks import TaskQueue, utcnow
from interstack.store import run_core


def flavor_snapshot(flavor: Flavor) -> dict[str, object]:
    """The flavor as the server keeps it (Nova's embedded flavor from 2.47 on)."""
    return {
        "id": flavor.id,
        "original_name": flavor.name,
        "vcpus": flavor.vcpus,
        "ram": flavor.ram_mb,
        "disk": flavor.disk_gb,
        "ephemeral": flavor.ephemeral_gb,
        "swap": flavor.swap_mb,
        "extra_specs": dict(flavor.extra_specs),
    }


def write_server(
    session: Session,
    tasks: TaskQueue,
    ctx: RequestContext,
    region: str,
    request: BootRequest,
    *,
    server_id: str,
    index: int,
    count: int,
    flavor: Flavor,
    image: BootImage | None,
    shown_image_id: str | None,
    public_key: str | None,
    ports: Sequence[ServerPort],
    groups: Sequence[str],
    zone: str,
    reservation_id: str,
    volumes: ReservedBootVolumes | None,
    local: Sequence[LocalDisk],
    root_device: str,
    run_here: bool,
) -> tuple[Row[Any], str]:
    """The server's row, its create action and its boot task (whose id comes second)."""
    now = utcnow()
    values = dict(
        id=server_id,
        region=region,
        project_id=ctx.project_id,
        user_id=ctx.user_id,
        name=request.name if count == 1 else f"{request.name}-{index + 1}",
        description=request.description,
        flavor_id=flavor.id,
        flavor=flavor_snapshot(flavor),
        # the create's imageRef, as Nova keeps it, also when the server boots from the
        # volumes the image maps; ``image`` (its data) only when it boots from the image
        image_id=shown_image_id,
        image_ref=image.native_ref if image is not None else None,
        key_name=request.key_name,
        key_data=public_key,
        user_data=request.user_data,
        metadata_items=dict(request.metadata),
        tags=list(request.tags),
        security_groups=list(groups),
        requested_networks={
            "networks": request.networks
            if isinstance(request.networks, str)
            else [vars(n) for n in request.networks]
        },
        port_refs=[
            {
                "port_id": p.port_id,
                "network_id": p.network_id,
                "native_ref": p.native_ref,
                "tag": p.tag,
            }
            for p in ports
        ],
        local_disks=stored(local),
        root_device_name=root_device,
        vm_state=VmState.BUILDING,
        task_state=TaskState.SCHEDULING,
        power_state=PowerState.NOSTATE,
        access_ipv4=request.access_ipv4,
        access_ipv6=request.access_ipv6,
        availability_zone=zone,
        config_drive="True" if request.config_drive else "",
        disk_config=request.disk_config,
        reservation_id=reservation_id,
        launch_index=index,
        created_at=now,
        updated_at=now,
    )
    # written at once, the row as written returned (not an ORM object flushed later)
    row = run_core(session, INSERT_SERVER, values).one()
    events = [started_event("compute__do_build_and_run_instance")]
    action_id = record_action(session, ctx, row, "create", events)
    payload: dict[str, object] = action_payload(action_id, events)
    if volumes is not None:
        # the boot task hands the root to the backend and, if the boot fails, deletes the
        # volumes made for it
        payload.update(root_volume=volumes.root_id, created_volumes=list(volumes.created))
    task_id = tasks.enqueue(BOOT, region, server_id, payload, session=session, run_here=run_here)
    return row, task_id
