"""Serving the metadata apps leaves the process's uvicorn loggers as the gateway set them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from starlette.applications import Starlette

from interstack.metadata.server import MetadataServers

UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def test_metadata_servers_keep_the_gateways_uvicorn_logging(tmp_path: Path) -> None:
    loggers = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    before = [(lg.level, lg.propagate, list(lg.handlers)) for lg in loggers]
    handler = logging.NullHandler()
    logging.getLogger("uvicorn.access").addHandler(handler)
    try:
        for lg in loggers:
            lg.setLevel(logging.INFO)  # as `interstack serve --log-level info` sets them
            # a uvicorn another test of this process started with its default log config
            # left its loggers not propagating: the state under test is set, not assumed
            lg.propagate = True

        async def serve_and_stop() -> None:
            servers = MetadataServers({tmp_path / "meta.sock": Starlette()})
            await servers.start()
            await asyncio.sleep(0.05)
            await servers.stop()

        asyncio.run(serve_and_stop())
        assert [lg.level for lg in loggers] == [logging.INFO] * len(loggers)
        access = logging.getLogger("uvicorn.access")
        assert access.propagate
        assert handler in access.handlers
        assert not (tmp_path / "meta.sock").exists()
    finally:
        logging.getLogger("uvicorn.access").removeHandler(handler)
        for lg, (level, propagate, handlers) in zip(loggers, before, strict=True):
            lg.setLevel(level)
            lg.propagate = propagate
            lg.handlers = handlers
