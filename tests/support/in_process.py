"""The app served by uvicorn in a thread of this process, for tests that watch its insides
(the store's statements) while real HTTP requests reach it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from interstack.app import create_app
from interstack.config import Settings


@contextmanager
def served_in_process(
    settings_for: Callable[[int], Settings],
) -> Iterator[tuple[FastAPI, Settings]]:
    """The app of ``settings_for(port)`` served on that port until the block ends."""
    # listening before the app is built, as interstack serve listens: a port chosen free before
    # could be taken by another process meanwhile
    listener = socket.create_server(("127.0.0.1", 0))
    settings = settings_for(listener.getsockname()[1])
    app = create_app(settings)
    # log_config=None: uvicorn's default would reconfigure the logging of the whole test process
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.port, log_level="warning", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.05)
        yield app, settings
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        listener.close()
