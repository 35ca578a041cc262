"""The app factory: builds the store, the services and the ASGI app for one gateway.

Everything stateful is created here and handed down (``app.state.services``); no module keeps
state of its own. ``create_app`` is what ``interstack serve`` runs and what tests serve.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from interstack.api.compute import routes as compute_routes
from interstack.api.faults import (
    FaultFormats,
    install_fault_handlers,
    keystone_fault,
)
from interstack.api.identity import routes as identity_routes
from interstack.api.image import routes as image_routes
from interstack.api.microversions import MicroversionHeadersMiddleware
from interstack.api.middleware import RequestIdMiddleware
from interstack.api.network import routes as network_routes
from interstack.api.object import routes as object_routes
from interstack.api.routing import group_routes
from interstack.api.volume import routes as volume_routes
from interstack.backends.contract import metadata_socket
from interstack.config import (
    DEFAULT_PASSWORD_HASH_MEMORY_KIB,
    DEFAULT_PASSWORD_HASH_TIME_COST,
    DEFAULT_REGION,
    RegionConfig,
    Settings,
)
from interstack.errors import InterstackError
from interstack.metadata.app import create_metadata_app
from interstack.metadata.configdrive import ConfigDriveFiles
from interstack.metadata.server import MetadataServers
from interstack.services.catalog import Catalog
from interstack.services.compute.bundle import ComputeServices
from interstack.services.compute.reconcile import ServerReconciler
from interstack.services.container import Services
from interstack.services.identity.app_credentials import AppCredentialService
from interstack.services.identity.assignments import AssignmentService
from interstack.services.identity.auth import AuthService
from interstack.services.identity.bootstrap import BootstrapResult, bootstrap
from interstack.services.identity.directory import DirectoryService
from interstack.services.identity.fernet_keys import KeyRepository
from interstack.services.identity.passwords import SecretHasher
from interstack.services.identity.role_definitions import RoleService
from interstack.services.identity.tokens import TokenProvider
from interstack.services.identity.users import UserService
from interstack.services.image.data import ImageDataService
from interstack.services.image.for_compute import ComputeImages
from interstack.services.image.for_volume import VolumeImages
from interstack.services.image.images import ImageService
from interstack.services.image.members import MemberService
from interstack.services.image.provided import ProvidedImages
from interstack.services.image.upload_tasks import UploadTasks
from interstack.services.metadata.lookup import InstanceLookup
from interstack.services.network.deletion_sweep import DeletionSweep
from interstack.services.network.dhcp_backfill import DhcpBackfill
from interstack.services.network.external import ExternalNetworks
from interstack.services.network.router_claims import RouterClaimSweep
from interstack.services.network.service import NetworkServices
from interstack.services.object.service import ObjectStorage
from interstack.services.regions import Regions
from interstack.services.task_runner import TaskRunner
from interstack.services.tasks import TaskHandler, TaskQueue
from interstack.services.volume.bundle import VolumeServices
from interstack.store import Database

log = logging.getLogger(__name__)

#: the services every region's catalog lists (with the volume service's alias)
SERVICES = (
    identity_routes.SERVICE,
    compute_routes.SERVICE,
    image_routes.SERVICE,
    network_routes.SERVICE,
    object_routes.SERVICE,
    volume_routes.SERVICE,
    volume_routes.ALIAS,
)


def effective_regions(
    settings: Settings, local_unavailable: Callable[[], str | None] | None = None
) -> list[RegionConfig]:
    """The configured regions, or one ``RegionOne`` on the best embedded backend: ``local`` when
    this host can run it (``local_unavailable`` says why not; the host check by default), else
    ``sim``, with the reason logged."""
    if settings.regions:
        return list(settings.regions)
    if local_unavailable is None:
        # imported only here: a gateway of configured regions never loads the local backend
        from interstack.backends.local.host import unavailable_reason

        local_unavailable = unavailable_reason
    reason = local_unavailable()
    if reason is None:
        return [RegionConfig(name=DEFAULT_REGION, backend="local")]
    log.warning("region %s simulates its cloud (backend sim): %s", DEFAULT_REGION, reason)
    return [RegionConfig(name=DEFAULT_REGION, backend="sim")]


def key_repository(settings: Settings) -> KeyRepository:
    return KeyRepository(settings.data_dir / "fernet-keys", settings.fernet_max_active_keys)


@asynccontextmanager
async def _sweeping(object_storage: ObjectStorage) -> AsyncIterator[None]:
    """Expired objects are reaped in the background while the app serves."""
    object_storage.start()
    try:
        yield
    finally:
        await run_in_threadpool(object_storage.close)


def _task_queue(db: Database, regions: Regions) -> TaskQueue:
    """The task queue, which the backends that see servers settle tell at once."""
    tasks = TaskQueue(db)
    for region in regions.names:
        if regions.capabilities(region).compute:
            regions.backend(region).compute.watch_settling(tasks.hurry)
    return tasks


@asynccontextmanager
async def _started(regions: Regions, app: FastAPI) -> AsyncIterator[None]:
    """Every region's backend started, then closed; why one could not start is kept in
    ``app.state.startup_failure`` for ``interstack serve`` to say in one line."""
    app.state.startup_failure = None
    try:
        await run_in_threadpool(regions.start)
    except InterstackError as exc:
        app.state.startup_failure = exc.message
        raise
    try:
        yield
    finally:
        await run_in_threadpool(regions.close)


def _ensure_networks(
    external: ExternalNetworks,
    dhcp: DhcpBackfill,
    claims: RouterClaimSweep,
    deletions: DeletionSweep,
) -> None:
    """At start-up (backends started), each queued for the task runner, no cloud asked: each
    cloud's own external network, DHCP ports for the subnets made before the gateway gave each
    network one, what routers did for ports that only named them undone, and the deletions of
    ports and routers cut short finished."""
    external.ensure()
    dhcp.ensure()
    claims.ensure()
    deletions.ensure()


def _network_start(
    db: Database,
    backends: Regions,
    network: NetworkServices,
    admin_project_id: str,
    tasks: TaskQueue,
) -> tuple[Callable[[], None], dict[str, TaskHandler], Callable[[], None]]:
    """What the lifespan does for the networks once the backends started
    (:func:`_ensure_networks`), the handlers of the tasks it queues, and what it waits for
    once the runner runs: the external networks a fresh gateway promises its first request."""
    external = ExternalNetworks(
        db, backends, network.networks, network.subnets, admin_project_id, tasks
    )
    dhcp = DhcpBackfill(db, backends, tasks)
    claims = RouterClaimSweep(db, backends, tasks)
    deletions = DeletionSweep(db, backends, network.ports, network.routers, admin_project_id, tasks)
    ensure = partial(_ensure_networks, external, dhcp, claims, deletions)
    handlers: dict[str, TaskHandler] = {
        **external.handlers(),
        **dhcp.handlers(),
        **claims.handlers(),
        **deletions.handlers(),
    }
    return ensure, handlers, external.wait_made


def _start_tasks(runner: TaskRunner, made: Callable[[], None]) -> None:
    """The runner started, then what the gateway promises its first request waited for
    (``made``: the external networks whose tasks start-up queued)."""
    runner.start()
    made()


def _private_data_dir(settings: Settings) -> None:
    """The data dir, made if missing, readable by this user only (it holds keys and secrets)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.data_dir, 0o700)


def _secret_hasher(settings: Settings) -> SecretHasher:
    """The one hasher of new passwords and secrets; a cost below argon2's own is said in the
    log, as it is meant for throwaway test gateways only."""
    passes, memory_kib = settings.password_hash_time_cost, settings.password_hash_memory_kib
    if passes < DEFAULT_PASSWORD_HASH_TIME_COST or memory_kib < DEFAULT_PASSWORD_HASH_MEMORY_KIB:
        log.warning(
            "new password hashes cost %d argon2 passes over %d KiB, below argon2's defaults "
            "(%d over %d KiB): stolen hashes are cheaper to crack; meant for test gateways",
            passes,
            memory_kib,
            DEFAULT_PASSWORD_HASH_TIME_COST,
            DEFAULT_PASSWORD_HASH_MEMORY_KIB,
        )
    return SecretHasher(passes, memory_kib)


def create_app(settings: Settings) -> FastAPI:
    _private_data_dir(settings)
    db = Database(settings.database_url)
    db.migrate()
    keys = key_repository(settings)
    keys.initialize()
    tokens = TokenProvider(keys, timedelta(seconds=settings.token_expiration_seconds))
    regions = effective_regions(settings)
    backends = Regions.load(regions, db=db, data_dir=settings.data_dir)
    region_names = [r.name for r in regions]
    catalog = Catalog(settings.base_url, region_names, list(SERVICES))
    hasher = _secret_hasher(settings)
    boot: BootstrapResult = bootstrap(
        db, settings.data_dir, f"{settings.base_url}/v3", [r.name for r in regions], hasher
    )
    assignments = AssignmentService(db)
    tasks = _task_queue(db, backends)
    network = NetworkServices.build(db, backends)
    # built here with the rest of the state; run by the lifespan once the backends started
    ensure_networks, network_tasks, external_made = _network_start(
        db, backends, network, boot.admin_project_id, tasks
    )
    provided_images = ProvidedImages(db, backends, boot.admin_project_id)
    images = ImageService(db, backends, provided_images)
    image_data = ImageDataService(images, settings.image_size_cap_bytes, tasks)
    compute_images = ComputeImages(image_data)
    instance_lookup = InstanceLookup(db)
    volume = VolumeServices.build(
        db,
        backends,
        tasks,
        VolumeImages(image_data),
        message_ttl_seconds=settings.message_ttl,
        message_reap_seconds=settings.message_reap_interval,
    )
    volume.bootstrap()
    compute = ComputeServices.build(
        db,
        backends,
        tasks,
        network.server_networking,
        images=compute_images,
        snapshots=compute_images,
        config_drives=ConfigDriveFiles(instance_lookup),
        volumes=volume.server_volumes,
        boot_volumes=volume.boot_volumes,
        volume_snapshots=volume.server_volumes,
    )
    compute.bootstrap()
    services = Services(
        settings=settings,
        db=db,
        catalog=catalog,
        auth=AuthService(
            db,
            tokens,
            admin_project_id=boot.admin_project_id,
            cache_seconds=settings.token_cache_seconds,
            revocation_check_seconds=settings.revocation_check_seconds,
            hasher=hasher,
        ),
        directory=DirectoryService(db),
        users=UserService(db, hasher),
        roles=RoleService(db),
        assignments=assignments,
        app_credentials=AppCredentialService(db, assignments, hasher),
        regions=backends,
        tasks=tasks,
        compute=compute,
        images=images,
        image_data=image_data,
        image_members=MemberService(db),
        compute_images=compute_images,
        network=network,
        object_storage=ObjectStorage(db, backends),
        volume=volume,
    )
    # the explicit table of task kinds -> handlers; compute, volume... services add theirs
    task_handlers: dict[str, TaskHandler] = {
        **compute.server_tasks.handlers(),
        **volume.tasks.handlers(),
        **volume.server_volumes.handlers(),
        **UploadTasks(image_data).handlers(),
        **network_tasks,
    }
    runner = TaskRunner(db, task_handlers, workers=settings.task_workers, queue=tasks)
    reconciler = ServerReconciler(db, backends, settings.reconcile_interval_seconds)
    metadata = _metadata_servers(backends, instance_lookup, compute)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        async with _started(backends, served):
            await run_in_threadpool(ensure_networks)
            await run_in_threadpool(provided_images.ensure)
            await run_in_threadpool(_start_tasks, runner, external_made)
            await run_in_threadpool(reconciler.start)  # after task recovery
            try:
                await metadata.start()
                async with _sweeping(services.object_storage):
                    yield
            finally:
                await metadata.stop()
                await run_in_threadpool(reconciler.stop)
                await run_in_threadpool(runner.stop)  # stop claiming, finish running steps, join

    app = FastAPI(
        title="interstack", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.services = services
    app.state.bootstrap = boot
    app.state.task_runner = runner
    _serve_apis(app, region_names, settings, tasks)
    return app


def _metadata_servers(
    backends: Regions, lookup: InstanceLookup, compute: ComputeServices
) -> MetadataServers:
    """The metadata service of every region whose instances read theirs from the gateway."""
    return MetadataServers(
        {
            metadata_socket(backends.backend(name)): create_metadata_app(
                name, lookup, compute.passwords
            )
            for name in backends.names
            if backends.capabilities(name).metadata_service
        }
    )


def _serve_apis(
    app: FastAPI, region_names: list[str], settings: Settings, tasks: TaskQueue
) -> None:
    """Every service's routes, each answering errors in its own fault format; the metrics
    if enabled."""
    app.add_middleware(MicroversionHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    faults = FaultFormats(default=keystone_fault)
    compute_routes.register(faults, region_names)
    image_routes.register(faults, region_names)
    network_routes.register(faults, region_names)
    volume_routes.register(faults, region_names)
    install_fault_handlers(app, faults, auth_uri=settings.base_url)
    identity_routes.add_to(app.router)
    compute_routes.add_to(app.router)
    image_routes.add_to(app.router)
    network_routes.add_to(app.router)
    volume_routes.add_to(app.router)
    object_routes.mount(app, faults, region_names)
    group_routes(app.router)  # every service's routes added: one look per service, not per route
    if settings.metrics_enabled:  # last: its middleware is the outermost, timing everything
        # imported only here: a gateway without metrics never loads prometheus-client
        from interstack.api.metrics import GatewayMetrics, ServiceOfPath, serve_metrics

        serve_metrics(app, GatewayMetrics(ServiceOfPath(SERVICES, region_names), tasks))
