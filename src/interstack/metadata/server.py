"""Serving the metadata apps on their unix sockets, inside the gateway's own event loop.

Each region that asks for it gets a uvicorn server on its socket, created here with mode 0600
(only root, which runs the backend's proxies, may connect) and removed on shutdown. The
servers run as tasks beside the main API server and leave its signal handling alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Generator, Mapping
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from interstack.errors import BackendUnavailable

log = logging.getLogger(__name__)

#: the longest path ``bind`` takes (``sun_path`` is 108 bytes with its terminating NUL)
MAX_SOCKET_PATH = 107


class _QuietServer(uvicorn.Server):
    """A uvicorn server that does not take over SIGINT/SIGTERM: the main server owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_unix(path: Path) -> socket.socket:
    """A listening unix socket at ``path`` with mode 0600, replacing a stale one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            # a long data dir would overflow sun_path: bind through the directory's descriptor
            target = str(path)
            if len(os.fsencode(target)) > MAX_SOCKET_PATH:
                target = f"/proc/self/fd/{directory}/{path.name}"
            old_umask = os.umask(0o177)
            try:
                sock.bind(target)
            finally:
                os.umask(old_umask)
        finally:
            os.close(directory)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise BackendUnavailable(
            f"cannot serve the metadata service on {path}: {exc.strerror or exc}"
        ) from exc
    return sock


class MetadataServers:
    """The metadata apps by socket path; :meth:`start` and :meth:`stop` run in the loop."""

    def __init__(self, apps: Mapping[Path, ASGIApp]) -> None:
        self.apps = dict(apps)
        self._running: list[tuple[Path, uvicorn.Server, asyncio.Task[None]]] = []

    async def start(self) -> None:
        for path, app in self.apps.items():
            sock = bind_unix(path)
            # no log_level or access_log: uvicorn applies those to its loggers, which are
            # the whole process's (the main server's start-up lines and access log too)
            config = uvicorn.Config(app, lifespan="off", log_config=None)
            server = _QuietServer(config)
            task = asyncio.create_task(server.serve(sockets=[sock]), name=f"metadata {path}")
            self._running.append((path, server, task))
            log.info("metadata service listening on %s", path)

    async def stop(self) -> None:
        while self._running:
            path, server, task = self._running.pop()
            server.should_exit = True
            with contextlib.suppress(Exception):
                await task
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
