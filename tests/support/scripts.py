"""The repository's scripts/ as modules, imported as ``make`` runs them: with their directory on
the import path (demo.py imports demo_cloud, certify.py imports demo)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def script_module(name: str) -> ModuleType:
    """scripts/<name>.py, imported (and its sibling scripts it imports)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))
