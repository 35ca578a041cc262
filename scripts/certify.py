"""``make certify``: serve the embedded cloud and certify it against 2020.06 OpenStack Powered
Compute, as anyone would certify a cloud: ``interstack certify`` with the gateway's clouds.yaml.

Extra arguments go to ``interstack certify`` (``make certify CERTIFY_ARGS='--capability
identity-*'``). Results land in ./certify-results; the exit code is certify's (0 all required
capabilities passed, 1 some failed, 2 setup error such as a service the gateway does not serve).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from demo import BIN_DIR, Gateway
from demo_cloud import DemoError
from rich.console import Console

console = Console(soft_wrap=True)


def main(extra: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="interstack-certify-") as temporary:
        gateway = Gateway(Path(temporary), config=None)
        try:
            gateway.start()
            env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(gateway.clouds_yaml))
            certify = [str(BIN_DIR / "interstack"), "certify", "--cloud", "interstack"]
            certify += ["--guideline", "2020.06", "--target", "compute"]
            certify += ["--out", "certify-results", *extra]
            console.print(f"$ {' '.join(certify[1:])}   (gateway on {gateway.url})")
            return subprocess.run(certify, env=env, check=False).returncode
        finally:
            gateway.stop()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except DemoError as exc:
        print(f"certify: error: {exc}", file=sys.stderr)
        sys.exit(2)
