"""What block storage requests share: the project in the URL, the endpoint, list parameters."""

from __future__ import annotations

import ast
import json
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import QueryParams

from interstack.api.compute.params import boolean, integer
from interstack.api.deps import Caller
from interstack.api.volume import views
from interstack.api.volume.versions import service_url
from interstack.errors import BadRequest
from interstack.services.listing import Page, SortDir


async def url_project(project_id: str, caller: Caller) -> str:
    """The project in the URL must be the token's (an admin may name any), as Cinder checks."""
    if project_id != caller.project_id and not caller.is_admin:
        raise BadRequest(
            f"Malformed request url: the project {project_id} in the URL is not the project "
            "of the token; use the endpoint the catalog gives for your project."
        )
    return project_id


#: the project id of the request URL, checked against the caller
UrlProject = Annotated[str, Depends(url_project)]


def root(request: Request) -> str:
    """The unversioned block storage endpoint of the request's region."""
    return service_url(request, request.path_params["region"])


def collection_href(request: Request, project_id: str, path: str) -> str:
    return f"{root(request)}/v3/{project_id}/{path}"


def listed_page(
    request: Request,
    project_id: str,
    path: str,
    name: str,
    listed: list[dict[str, Any]],
    ids: list[str],
    limit: int | None,
) -> dict[str, Any]:
    """A list's body: its entries under ``name`` and, when the page is full, Cinder's
    ``<name>_links`` to the next one (the request's query with the last id as marker)."""
    body: dict[str, Any] = {name: listed}
    href = collection_href(request, project_id, path)
    more = views.next_links(href, request.query_params, ids, limit)
    if more:
        body[f"{name}_links"] = more
    return body


def page(query: QueryParams) -> Page:
    """``limit``, ``marker``, and ``sort=key:dir,...`` or ``sort_key``/``sort_dir``."""
    sort: list[tuple[str, SortDir]] = []
    if query.get("sort"):
        for part in query["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            direction = direction or "desc"
            if direction not in ("asc", "desc"):
                raise BadRequest(f"Invalid sort direction {direction!r}; use 'asc' or 'desc'.")
            sort.append((key, "asc" if direction == "asc" else "desc"))
    elif query.get("sort_key"):
        keys = query["sort_key"].split(",")
        dirs = query.get("sort_dir", "desc").split(",")
        for index, key in enumerate(keys):
            direction = dirs[index] if index < len(dirs) else dirs[-1]
            if direction not in ("asc", "desc"):
                raise BadRequest(f"Invalid sort direction {direction!r}; use 'asc' or 'desc'.")
            sort.append((key.strip(), "asc" if direction == "asc" else "desc"))
    return Page(limit=integer(query, "limit"), marker=query.get("marker"), sort=tuple(sort))


def flag(query: QueryParams, name: str) -> bool | None:
    value = query.get(name)
    return None if value is None else boolean(value, name)


def metadata_filter(query: QueryParams) -> dict[str, str]:
    """``metadata={"k": "v"}`` (JSON, or the Python literal cinderclient sends)."""
    raw = query.get("metadata")
    if not raw:
        return {}
    parsed: Any
    try:
        parsed = json.loads(raw)
    except ValueError:
        try:
            parsed = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest(
            f"Invalid input received: metadata filter {raw!r} must be a mapping such as "
            '{"key": "value"}.'
        )
    return {str(k): str(v) for k, v in parsed.items()}


def name_and_description(body: Any) -> dict[str, str | None]:
    """The given ``name``/``description`` (or their old ``display_`` names) of a body."""
    given = body.model_fields_set
    changes: dict[str, str | None] = {}
    for field, old in (("name", "display_name"), ("description", "display_description")):
        if field in given:
            changes[field] = getattr(body, field)
        elif old in given:
            changes[field] = getattr(body, old)
    return changes
