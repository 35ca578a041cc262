"""``interstack serve`` run as a user runs it: a process of its own on a free loopback port,
ready once Keystone's version document answers, stopped with SIGTERM. Written once for the
demo and certify scripts, the benchmarks and the tests, which each start it their own way
(options, environment, session, log) and share how to tell it answers and how to stop it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

#: where the running interpreter's ``interstack`` command (and ``openstack``) is installed
BIN_DIR = Path(sys.executable).parent


class NotServing(RuntimeError):
    """``interstack serve`` exited, or did not answer in time; the message is one line that
    says which, with the last line of its log."""


def free_port() -> int:
    """A loopback TCP port no one listens on now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command(data_dir: Path, port: int, options: Sequence[str] = ()) -> list[str]:
    """``interstack serve`` with its own data dir on ``port``, and more ``options``."""
    return [
        str(BIN_DIR / "interstack"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        *options,
    ]


def answers(url: str) -> bool:
    """Whether a gateway at ``url`` answers Keystone's version document (200)."""
    try:  # the URL of a gateway the caller started on loopback: http, never a file
        with urllib.request.urlopen(f"{url}/v3", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def last_line(log: Path) -> str:
    """The last line of ``log`` that says something."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def wait_until_serving(
    process: subprocess.Popen[bytes],
    url: str,
    timeout: float,
    log: Path,
    waiting: Callable[[], object] | None = None,
) -> None:
    """Return once the gateway ``process`` serves at ``url``; ``waiting`` is called between
    looks. Raises :class:`NotServing` if it exits first or does not answer within ``timeout``
    seconds (it is left running then: the caller stops it)."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        code = process.poll()
        if code is not None:
            raise NotServing(f"interstack serve exited early with {code}: {last_line(log)}")
        if time.monotonic() > deadline:
            raise NotServing(
                f"interstack serve did not answer on {url} within {timeout:.0f} s: {last_line(log)}"
            )
        if waiting is not None:
            waiting()
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM, then SIGKILL after ``timeout`` seconds; the exit code (at once if it has
    exited already)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
