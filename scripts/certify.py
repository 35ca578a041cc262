"""``make certify``: serve the embedded cloud and certify it against 2020.06 OpenStack Powered
Compute, as anyone would certify a cloud: ``interstack certify`` with the gateway's clouds.yaml.

Extra arguments go to ``interstack certify`` (``make certify CERTIFY_ARGS='--capability
identity-*'``). Results land in ./certify-results; the exit code is certify's (0 all required
capabilities passed, 1 some failed, 2 setup error such as a service the gateway does not serve).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from demo import BIN_DIR, DemoError, free_port, wait_until_serving
from rich.console import Console

console = Console(soft_wrap=True)


def main(extra: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="interstack-certify-") as temporary:
        data_dir = Path(temporary) / "data"
        log = Path(temporary) / "serve.log"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [str(BIN_DIR / "interstack"), "serve", "--data-dir", str(data_dir)]
        command += ["--port", str(port)]
        with log.open("wb") as output:
            gateway = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            wait_until_serving(gateway, url, log)
            env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(data_dir / "clouds.yaml"))
            certify = [str(BIN_DIR / "interstack"), "certify", "--cloud", "interstack"]
            certify += ["--guideline", "2020.06", "--target", "compute"]
            certify += ["--out", "certify-results", *extra]
            console.print(f"$ {' '.join(certify[1:])}   (gateway on {url})")
            return subprocess.run(certify, env=env, check=False).returncode
        finally:
            gateway.send_signal(signal.SIGTERM)
            try:
                gateway.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gateway.kill()
                gateway.wait()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except DemoError as exc:
        print(f"certify: error: {exc}", file=sys.stderr)
        sys.exit(2)
