"""Install the ``openstack.cloud`` Ansible collection (and ``ansible.posix``, whose ``mount``
the LAMP playbook uses) into this venv, not the rest of ``ansible``.

The collection has no distribution of its own on PyPI: it ships inside the ``ansible`` package,
which unpacks ~470 MB of other vendors' collections. We need ~1 MB of it, and a recent one:
openstack.cloud before 2.6.0 reads ``openstack.version``, which openstacksdk no longer imports
since 4.15 (every module then fails with "module 'openstack' has no attribute 'version'"), and
the ``ansible`` releases that still install on Python 3.11 bundle 2.5.0. So pip downloads the
newer ``ansible`` wheel (pure Python; its collections do not depend on the interpreter version)
and only ``ansible_collections/openstack/cloud`` and ``ansible_collections/ansible/posix`` are
unpacked into site-packages, where ``ansible-core`` finds collections by itself. Idempotent:
installed collections (openstack.cloud at the wanted version) are left alone.

Usage: ``python scripts/install_openstack_collection.py`` (run with the venv's python).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

#: the ``ansible`` releases whose bundled openstack.cloud works with openstacksdk >= 4.15
ANSIBLE_REQUIREMENT = "ansible>=13,<15"
MINIMUM_COLLECTION = (2, 6, 0)
COLLECTION = "ansible_collections/openstack/cloud/"
#: the other collections the playbooks use, unpacked from the same wheel
OTHERS = ("ansible_collections/ansible/posix/",)


def installed_version(target: Path) -> tuple[int, ...] | None:
    manifest = target / "MANIFEST.json"
    if not manifest.exists():
        return None
    version: str = json.loads(manifest.read_text())["collection_info"]["version"]
    return tuple(int(part) for part in version.split(".")[:3])


def download_wheel(into: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            # the newest ansible releases require a newer interpreter than ours only for
            # ansible-core, which is not installed from this wheel
            "--python-version",
            "3.12",
            "--dest",
            str(into),
            ANSIBLE_REQUIREMENT,
        ],
        check=True,
    )
    (wheel,) = into.glob("ansible-*.whl")
    return wheel


def unpack_collections(wheel: Path, site_packages: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        for prefix in (COLLECTION, *OTHERS):
            members = [name for name in archive.namelist() if name.startswith(prefix)]
            if not members:
                raise SystemExit(f"{wheel.name} holds no {prefix}")
            archive.extractall(site_packages, members=members)


def main() -> int:
    site_packages = Path(sysconfig.get_paths()["purelib"])
    target = site_packages / COLLECTION
    found = installed_version(target)
    others_there = all((site_packages / other / "MANIFEST.json").exists() for other in OTHERS)
    if found is not None and found >= MINIMUM_COLLECTION and others_there:
        return 0
    if found is not None:  # an older one (from an ``ansible`` install): replaced, not merged
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory() as tmp:
        unpack_collections(download_wheel(Path(tmp)), site_packages)
    found = installed_version(target)
    if found is None or found < MINIMUM_COLLECTION:
        raise SystemExit(f"openstack.cloud {found} installed; {MINIMUM_COLLECTION} or newer needed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
