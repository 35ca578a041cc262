"""Loading and listing nftables rules with the ``nft`` tool, its errors translated.

Rulesets are loaded whole with ``nft -f -``: a file that first declares, then deletes, then
redefines a table replaces it in one kernel transaction, so traffic never sees a half-written
table, and connection tracking entries survive the swap.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence

from interstack.backends.local.network.links import run_in_netns
from interstack.errors import BackendError, BackendUnavailable


def nft_binary() -> str:
    found = shutil.which("nft")
    if found is None:
        raise BackendUnavailable(
            "the nft tool is missing: install the Debian package nftables (make deps does)"
        )
    return found


def replace_tables(tables: Sequence[tuple[str, str, str]], namespace: str | None = None) -> None:
    """Replace each ``(family, name, body)`` table atomically (one transaction for all)."""
    script = "".join(
        f"table {family} {name} {{}}\ndelete table {family} {name}\n"
        f"table {family} {name} {{\n{body}\n}}\n"
        for family, name, body in tables
    )
    load(script, namespace)


def delete_tables(tables: Sequence[tuple[str, str]], namespace: str | None = None) -> None:
    """Remove tables if they exist (declaring them first makes the delete never fail)."""
    script = "".join(
        f"table {family} {name} {{}}\ndelete table {family} {name}\n" for family, name in tables
    )
    load(script, namespace)


def load(script: str, namespace: str | None = None) -> None:
    if namespace is not None:
        run_in_netns(namespace, [nft_binary(), "-f", "-"], stdin=script)
        return
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [nft_binary(), "-f", "-"],
            input=script,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackendError(f"nft failed to run: {exc}") from exc
    if done.returncode != 0:
        raise BackendError(f"nft rejected the interstack rules: {_first_error(done.stderr)}")


def _first_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "Error" in line]
    return (lines[0] if lines else stderr.strip()[:300]) or "no message"


def table_names(family: str | None = None) -> list[tuple[str, str]]:
    """``(family, name)`` of every table on the host (``nft -j list tables``)."""
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [nft_binary(), "-j", "list", "tables"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        listing = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise BackendError(f"listing nft tables failed: {exc}") from exc
    tables = [item["table"] for item in listing.get("nftables", []) if "table" in item]
    return [
        (str(t["family"]), str(t["name"]))
        for t in tables
        if family is None or t["family"] == family
    ]
