"""The query of ``GET /messages`` by microversion range, as Cinder reads it.

- at every version: an admin's ``all_tenants`` and ``project_id`` say whose messages are
  listed (as for volumes; Cinder lists an admin every project's at 3.3, and the ``openstack``
  CLI sends ``--project`` as ``project_id`` at any version); a project's are its own.
- 3.3 to 3.4: no other parameter is read (Cinder ignores them): every message listed.
- from 3.5: ``limit``, ``marker``, ``offset``, ``sort`` (or ``sort_key``/``sort_dir``), and the
  message filters ``event_id``, ``message_level``, ``request_id``, ``resource_type``,
  ``resource_uuid``. A key that names no message field filters everything out (Cinder's
  model filter); a project's ``project_id`` lists its own messages, or none.
- from 3.31: such a key is a 400 naming the filters there are (Cinder's resource filters); a
  project's ``all_tenants`` is dropped (cinderclient always sends it), its ``project_id``
  is a 400: only an admin lists another project's messages.
- from 3.34: ``<filter>~`` matches a substring (Cinder's like filters).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams

from interstack.api.compute.params import integer
from interstack.api.microversions import APIVersion
from interstack.api.volume import params
from interstack.errors import BadRequest
from interstack.services.listing import Page
from interstack.services.volume.messages import FILTER_COLUMNS, MessageFilters

V3_5 = APIVersion(3, 5)
V3_31 = APIVersion(3, 31)
V3_34 = APIVersion(3, 34)

#: what pages and sorts rather than filters
PAGING = frozenset({"limit", "marker", "offset", "sort", "sort_key", "sort_dir"})
#: what only an admin's list reads
ADMIN_ONLY = frozenset({"all_tenants", "project_id"})


@dataclass(frozen=True)
class MessageQuery:
    """A list request as the service takes it; ``matches_nothing`` for a filter on no field."""

    filters: MessageFilters
    page: Page
    offset: int
    matches_nothing: bool = False


def _known(version: APIVersion) -> str:
    names = sorted(FILTER_COLUMNS)
    if version >= V3_34:
        names += [f"{name}~" for name in sorted(FILTER_COLUMNS)]
    return ", ".join(names)


def message_query(query: QueryParams, version: APIVersion, is_admin: bool) -> MessageQuery:
    """The list request ``query`` asks for at ``version`` (see the module docstring)."""
    all_tenants = bool(params.flag(query, "all_tenants")) if is_admin else False
    project_id = query.get("project_id")
    if version < V3_5:
        whose = MessageFilters(all_tenants=all_tenants, project_id=project_id if is_admin else None)
        return MessageQuery(whose, Page(), 0)
    exact: dict[str, str] = {}
    like: dict[str, str] = {}
    unknown: list[str] = []
    for key, value in query.items():
        if key in PAGING or key in ADMIN_ONLY:
            continue
        if key in FILTER_COLUMNS:
            exact[key] = value
        elif version >= V3_34 and key.endswith("~") and key[:-1] in FILTER_COLUMNS:
            like[key[:-1]] = value
        else:
            unknown.append(key)
    if not all(key.isascii() for key in unknown):
        raise BadRequest("Filter keys can only contain ASCII characters.")
    if version >= V3_31 and not is_admin and project_id is not None:
        unknown.append("project_id")
    if unknown and version >= V3_31:
        raise BadRequest(
            f"Invalid filters {', '.join(sorted(unknown))} are found in query options; "
            f"messages filter by {_known(version)}."
        )
    offset = integer(query, "offset") or 0
    return MessageQuery(
        MessageFilters(exact=exact, like=like, all_tenants=all_tenants, project_id=project_id),
        params.page(query),
        offset,
        matches_nothing=bool(unknown),
    )
