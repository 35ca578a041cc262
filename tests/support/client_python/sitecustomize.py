"""Loaded at start-up by the Python of the clients the tests start, the ``openstack`` CLI and
Ansible's modules (tests/support/gateway.py and ansible.py put this directory first on their
``PYTHONPATH``): their waits look again every 0.2 s instead of every 2-5 s
(tests/support/sdk_looks.py says why), so a ``--wait`` or a module's ``wait: true`` still loops
on what the gateway answers, through the client's own code, with shorter sleeps.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_SDK_LOOKS = Path(__file__).parents[1] / "sdk_looks.py"
#: the waits to shorten, by module: openstacksdk's and osc-lib's
_WAITS = {
    "openstack.utils": ("iterate_timeout",),
    "osc_lib.utils": ("wait_for_status", "wait_for_delete"),
}


class _QuickerLooks(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`_WAITS` as the import system would, and shortens their
    waits' sleeps once each module has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _WAITS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            looks = _sdk_looks()
            for name in _WAITS[fullname]:
                wait = module.__dict__[name]
                short = looks.shortened if name == "iterate_timeout" else looks.shortened_sleeps
                module.__dict__[name] = short(wait)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _sdk_looks() -> ModuleType:
    """tests/support/sdk_looks.py, by its path (the clients' Python has no ``tests``
    package)."""
    spec = importlib.util.spec_from_file_location("interstack_tests_sdk_looks", _SDK_LOOKS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sys.meta_path.insert(0, _QuickerLooks())
