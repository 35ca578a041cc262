"""Loaded at start-up by the Python that runs the tests' Ansible modules (tests/support/ansible.py
puts this directory first on its ``PYTHONPATH``): openstacksdk's waits look again at most every
0.1 s instead of every 2 s (a volume's status, a deletion) or 5 s (a server's boot).

A module's ``wait: true`` still loops on what the gateway answers, through the module's own
code, until the status it waits for; only the sleep between two looks is shorter, where the
waiting is not what a test proves (tests/support/compute.py does the same for the SDK's waits in
the tests' own process). The gateway finishes a sim boot in well under a second: at 5 s a look,
the playbooks spent most of their time asleep.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import Any

#: the longest sleep between two looks of an openstacksdk wait
LOOK_SECONDS = 0.1


class _QuickerLooks(importlib.abc.MetaPathFinder):
    """Finds ``openstack.utils`` as the import system would, and shortens its
    ``iterate_timeout``'s sleeps once the module has run."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "openstack.utils":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.__dict__["iterate_timeout"] = _shortened(module.__dict__["iterate_timeout"])

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _shortened(iterate_timeout: Callable[..., Iterator[int]]) -> Callable[..., Iterator[int]]:
    def looks(timeout: Any, message: str, wait: Any = 2) -> Iterator[int]:
        # None is openstacksdk's "its default" (2 s); 0 it makes 0.1 s itself
        asked = 2.0 if wait is None else float(wait)
        return iterate_timeout(timeout, message, wait=min(LOOK_SECONDS, asked))

    return looks


sys.meta_path.insert(0, _QuickerLooks())
