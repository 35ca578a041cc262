"""The tests' helpers the benchmarks use, from the repository's tests/ one folder up: a
benchmark runs as a script (``python benchmarks/<name>.py``), with only benchmarks/ on its
import path."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.gateway import password_auth_body

__all__ = ["password_auth_body"]
