"""The ``interstack`` command: serve the gateway, rotate keys, build images, clean up the host.

Errors a person can fix are one line on stderr and exit code 1 (2 for bad usage), never a trace.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from starlette.types import Message, Receive, Scope, Send

from interstack import __version__
from interstack.certify.cli import certify_app
from interstack.config import RegionConfig, Settings, load_settings
from interstack.errors import InterstackError

app = typer.Typer(
    name="interstack",
    help="One standard cloud API: the OpenStack API over pluggable backends.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage the Fernet keys that sign tokens.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(certify_app, name="certify")
image_app = typer.Typer(help="Images of the local backend.", no_args_is_help=True)
app.add_typer(image_app, name="image")

console = Console(stderr=True, soft_wrap=True)
#: connections a starting gateway queues until it serves them (uvicorn's default)
LISTEN_BACKLOG = 2048

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config file", dir_okay=False)
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="state directory (default ~/.local/share/interstack)"),
]


def _fail(message: str) -> typer.Exit:
    console.print(f"[bold red]interstack: error:[/] {message}", highlight=False)
    return typer.Exit(1)


def _shut_down(_signal: int, _frame: FrameType | None) -> None:
    """Handler left in place after uvicorn has stopped: the shutdown is done already."""


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except InterstackError as exc:
        raise _fail(exc.message) from None


def startup_failure(app: FastAPI) -> str | None:
    """Why the app's startup failed, if it said (unset before its lifespan ran)."""
    failure: str | None = getattr(app.state, "startup_failure", None)
    return failure


class OneLineStartupFailure:
    """The app for uvicorn: a startup failure the app explains (``state.startup_failure``, an
    ``InterstackError`` such as a region that cannot start) is said by ``serve`` in one line,
    instead of the trace Starlette hands uvicorn to log. Other failures keep their trace."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def quiet(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed" and startup_failure(self.app):
                message = {**message, "message": ""}
            await send(message)

        await self.app(scope, receive, quiet if scope["type"] == "lifespan" else send)


@app.command()
def serve(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="listen address (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (default 5000)")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning, error")] = "info",
    port_file: Annotated[
        Path | None,
        typer.Option(
            help="once listening, write the port to this file (with --port 0, the port the "
            "kernel chose)",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the OpenStack APIs of every configured region."""
    from interstack.app import create_app

    settings = _settings(config, data_dir=data_dir, host=host, port=port)
    listener = _listen(settings.host, settings.port)
    if settings.port == 0:
        settings = settings.model_copy(update={"port": listener.getsockname()[1]})
    if port_file is not None:
        _write_port(port_file, settings.port)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        application = create_app(settings)
    except InterstackError as exc:
        raise _fail(exc.message) from None
    except OSError as exc:
        raise _fail(f"cannot prepare {settings.data_dir}: {exc.strerror}") from None
    clouds = application.state.bootstrap.clouds_yaml
    console.print(
        f"[bold]interstack[/] {__version__} serving on {settings.base_url}\n"
        f"  clouds.yaml: {clouds}\n"
        f"  try: OS_CLIENT_CONFIG_FILE={clouds} openstack --os-cloud interstack token issue\n"
        f"  admin: OS_CLIENT_CONFIG_FILE={clouds} openstack --os-cloud interstack-admin "
        "project list",
        highlight=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            OneLineStartupFailure(application),
            host=settings.host,
            port=settings.port,
            log_level=log_level.lower(),
            access_log=log_level.lower() == "debug",
            lifespan="on",
        )
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; under the default
    # handlers that kills the process by SIGTERM/SIGINT. A requested shutdown is a clean exit 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _shut_down)
    # The ~250,000 objects of the imports and the app live as long as the process: out of the
    # collector's way, a full collection while serving skips them, and so do the collections of
    # the interpreter's exit, which otherwise take seconds of CPU after every shutdown.
    gc.freeze()
    try:
        server.run(sockets=[listener])
    finally:  # uvicorn exits (SystemExit 3) when the startup fails
        failure = startup_failure(application)
        if failure is not None:
            raise _fail(failure)
    if not server.started:
        raise _fail(f"could not listen on {settings.host}:{settings.port}")


def _listen(host: str, port: int) -> socket.socket:
    """The gateway's socket, listening before the app is built: from then on the port is this
    process's alone, so a client told it (``--port-file``) talks to no one else, and a port
    another process holds fails the start at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # as uvicorn binds: a gateway restarted on its port does not wait out the last one's sockets
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        raise _fail(f"could not listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _write_port(path: Path, port: int) -> None:
    """Write ``port`` to ``path`` whole (a reader never sees part of it)."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(f"{port}\n")
        partial.replace(path)
    except OSError as exc:
        raise _fail(f"cannot write the port file {path}: {exc.strerror}") from None


@keys_app.command("rotate")
def keys_rotate(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Promote the staged key to primary and stage a new one (every replica must share them)."""
    from interstack.app import key_repository

    settings = _settings(config, data_dir=data_dir)
    repository = key_repository(settings)
    primary = repository.rotate()
    typer.echo(f"rotated: key {primary} is now primary in {repository.directory}")


class RichBuildProgress:
    """A spinner with the build's current step and the time it has taken so far."""

    def __init__(self, out: Console, title: str) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.title = title
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[title]}[/]"),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=out,
            transient=False,
        )
        self.task = self.progress.add_task("starting", title=title, total=None)

    def __enter__(self) -> RichBuildProgress:
        self.progress.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.progress.stop()

    def step(self, line: str) -> None:
        self.progress.update(self.task, description=line[:100])


@image_app.command("build")
def image_build(
    name: Annotated[str, typer.Argument(help="the image to build")] = "debian-12",
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    region: Annotated[str, typer.Option(help="the local region whose cache to fill")] = "RegionOne",
    cache_dir: Annotated[
        Path | None, typer.Option(help="build into this cache (default: the region's)")
    ] = None,
) -> None:
    """Build a local backend image now (servers build it on first boot otherwise)."""
    from interstack.backends.local import image_cache_for
    from interstack.backends.local.imagebuild import ensure_built

    settings = _settings(config, data_dir=data_dir)
    regions = {r.name: r for r in settings.regions}
    region_settings = regions[region].settings if region in regions else {}
    target = cache_dir or image_cache_for(settings.data_dir / "backends" / region, region_settings)
    try:
        with RichBuildProgress(console, f"building {name}") as progress:
            root = ensure_built(target, name, progress=progress)
    except InterstackError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"image {name} ready: {root}")


@app.command()
def cleanup(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    wait: Annotated[
        float, typer.Option(help="seconds to wait for a gateway that is shutting down")
    ] = 5.0,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="one region; a cloud region (aws) has everything the gateway created there "
            "removed, whatever the gateway's state says",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="with --region: only list what would be removed")
    ] = False,
) -> None:
    """Take the local backend off this host: stop its instances, remove its bridges, namespaces
    and firewall tables. Disks and state stay; the next `interstack serve` restores them.
    With --region, only that region; a region in another cloud loses every resource the
    gateway tagged as its own there (stop the gateway first)."""
    from interstack.app import effective_regions
    from interstack.backends.local.cleanup import cleanup_host

    settings = _settings(config, data_dir=data_dir)
    regions = effective_regions(settings)
    if region is not None:
        chosen = [r for r in regions if r.name == region]
        if not chosen:
            raise _fail(f"no region {region} in the configuration")
        if chosen[0].backend != "local":
            _clean_cloud_region(settings, chosen[0], dry_run=dry_run)
            return
        regions = chosen
    if dry_run:
        raise _fail("--dry-run lists what a cloud region's cleanup would remove; use --region")
    local = [r.name for r in regions if r.backend == "local"]
    try:
        stopped = cleanup_host(
            [settings.data_dir / "backends" / name for name in local], lock_wait=wait
        )
    except InterstackError as exc:
        raise _fail(exc.message) from None
    typer.echo(f"stopped {len(stopped)} instance(s); removed the local networks from this host")


def _clean_cloud_region(settings: Settings, region: RegionConfig, *, dry_run: bool) -> None:
    """List, and unless ``dry_run`` remove, what the gateway created in the region's cloud."""
    from interstack.backends.registry import load_backend
    from interstack.store import Database

    db = Database(settings.database_url)
    try:
        backend = load_backend(
            region.backend, region.name, region.settings, data_dir=settings.data_dir, db=db
        )
        backend.start()
        try:
            found = backend.clean_up(dry_run=dry_run)
        finally:
            backend.close()
    except InterstackError as exc:
        raise _fail(exc.message) from None
    finally:
        db.engine.dispose()
    for line in found:
        typer.echo(f"{'would remove' if dry_run else 'removed'} {line}")
    typer.echo(
        f"region {region.name}: {len(found)} resource(s) "
        + ("found (dry run; nothing removed)" if dry_run else "removed")
    )


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
