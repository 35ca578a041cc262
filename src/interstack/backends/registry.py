"""Find backends by type name through the ``interstack.backends`` entry point group, loudly.

A region's ``backend: sim`` names an entry point in that group (``pyproject.toml``); third-party
packages add backends the same way. An unknown name, an import that fails, or a target that is not
a :class:`~interstack.backends.contract.Backend` is a :class:`BackendLoadError` naming the backend
and the region, raised at start-up; a backend never silently disappears.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from interstack.backends.contract import Backend, BackendContext
from interstack.config import ConfigError
from interstack.store import Database

ENTRY_POINT_GROUP = "interstack.backends"


class BackendLoadError(ConfigError):
    """A region's backend cannot be found, imported or built."""


def available_backends() -> list[str]:
    """The backend type names installed, sorted."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _entry_point(name: str) -> EntryPoint | None:
    matches = entry_points(group=ENTRY_POINT_GROUP, name=name)
    return next(iter(matches), None)


def backend_class(name: str, region: str) -> type[Backend]:
    """The class registered as backend ``name``, for ``region`` (named in errors)."""
    entry = _entry_point(name)
    if entry is None:
        known = ", ".join(available_backends()) or "none"
        raise BackendLoadError(
            f"region {region}: unknown backend {name!r} (installed backends: {known})"
        )
    try:
        loaded: Any = entry.load()
    except Exception as exc:
        raise BackendLoadError(
            f"region {region}: backend {name!r} ({entry.value}) failed to import: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, Backend)):
        raise BackendLoadError(
            f"region {region}: backend {name!r} ({entry.value}) is not an "
            "interstack.backends.contract.Backend subclass"
        )
    return loaded


def load_backend(
    name: str,
    region: str,
    settings: Mapping[str, Any],
    *,
    data_dir: Path,
    db: Database,
) -> Backend:
    """Build backend ``name`` for ``region``; its data lives in ``data_dir/backends/<region>``.

    The backend validates ``settings`` in its constructor; errors it raises that do not already
    name the region are wrapped so that they do.
    """
    cls = backend_class(name, region)
    context = BackendContext(
        region=region,
        settings=dict(settings),
        data_dir=data_dir / "backends" / region,
        db=db,
    )
    try:
        return cls(context)
    except ConfigError:
        raise
    except Exception as exc:
        raise BackendLoadError(
            f"region {region}: backend {name!r} cannot be built: {type(exc).__name__}: {exc}"
        ) from exc
