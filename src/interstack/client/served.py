"""``interstack serve`` run as a user runs it: a process of its own on a loopback port it
chooses and holds before it tells it (``--port 0 --port-file``), ready once Keystone's version
document answers there, stopped with SIGTERM. Written once for the demo and certify scripts,
the benchmarks and the tests, which each start it their own way (options, environment, session,
log) and share how to tell it answers and how to stop it."""

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
    """A loopback TCP port no one listens on now (the kernel's choice) — and no one holds once
    this returns: another process may take it before the caller binds it. A server started
    for a test listens on port 0 and says the port it holds (``interstack serve --port-file``,
    ``moto_server``'s log); a port that must stay unanswered is held bound, not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command(
    data_dir: Path, port_file: Path, options: Sequence[str] = (), port: int = 0
) -> list[str]:
    """``interstack serve`` with its own data dir on ``port`` (0: one the kernel chooses), and
    more ``options``; it writes the port to ``port_file`` once it listens there (the caller
    removes the file before each start: :func:`wait_until_serving` reads it)."""
    return [
        str(BIN_DIR / "interstack"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--port-file",
        str(port_file),
        *options,
    ]


def loopback_url(port: int) -> str:
    """The URL of a gateway serving on this host's loopback ``port``."""
    return f"http://127.0.0.1:{port}"


def _bound_port(port_file: Path) -> int | None:
    try:
        return int(port_file.read_text())
    except (OSError, ValueError):  # not written yet (written whole: never a part)
        return None


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
    port_file: Path,
    timeout: float,
    log: Path,
    waiting: Callable[[], object] | None = None,
) -> int:
    """The port the gateway ``process`` serves at, once it answers there: the loopback port
    it wrote to ``port_file`` once it held it, so what answers is that process (a port chosen
    before the start, such as :func:`free_port`'s, may be taken by another process meanwhile,
    another gateway even). ``waiting`` is called between looks. Raises :class:`NotServing` if
    it exits first or does not answer within ``timeout`` seconds (it is left running then:
    the caller stops it)."""
    deadline = time.monotonic() + timeout
    while True:
        port = _bound_port(port_file)
        # the answer counts if the process still runs after it: it held the port throughout
        if port is not None and answers(loopback_url(port)) and process.poll() is None:
            return port
        code = process.poll()
        if code is not None:
            raise NotServing(f"interstack serve exited early with {code}: {last_line(log)}")
        if time.monotonic() > deadline:
            where = "(it listened on no port)" if port is None else f"on {loopback_url(port)}"
            raise NotServing(
                f"interstack serve did not answer {where} within {timeout:.0f} s: {last_line(log)}"
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
