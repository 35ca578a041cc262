"""Wire JSON of identity responses: tokens and the catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from interstack.services.catalog import CatalogService
from interstack.services.identity.model import NamedRef, TokenInfo


def timestamp(moment: datetime | None) -> str | None:
    """Keystone's time format: ``2015-08-27T09:49:58.000000Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ref(ref: NamedRef) -> dict[str, str]:
    return {"id": ref.id, "name": ref.name}


def catalog(services: tuple[CatalogService, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": service.id,
            "type": service.type,
            "name": service.name,
            "endpoints": [
                {
                    "id": e.id,
                    "interface": e.interface,
                    "region": e.region,
                    "region_id": e.region,
                    "url": e.url,
                }
                for e in service.endpoints
            ],
        }
        for service in services
    ]


def token(info: TokenInfo, services: tuple[CatalogService, ...] | None) -> dict[str, Any]:
    """The ``{"token": ...}`` body; ``services`` is None when the catalog is left out."""
    body: dict[str, Any] = {
        "methods": list(info.methods),
        "user": {
            **_ref(info.user),
            "domain": _ref(info.user_domain),
            "password_expires_at": timestamp(info.password_expires_at),
        },
        "audit_ids": list(info.audit_ids),
        "expires_at": timestamp(info.expires_at),
        "issued_at": timestamp(info.issued_at),
    }
    if info.project is not None:
        project = info.project
        body["project"] = {"id": project.id, "name": project.name, "domain": _ref(project.domain)}
        body["is_domain"] = False
    elif info.domain is not None:
        body["domain"] = _ref(info.domain)
    elif info.system:
        body["system"] = {"all": True}
    if info.project is not None or info.domain is not None or info.system:
        body["roles"] = [_ref(r) for r in info.roles]
        if services is not None:
            body["catalog"] = catalog(services)
    if info.app_credential is not None:
        body["application_credential"] = {
            "id": info.app_credential.id,
            "name": info.app_credential.name,
            "restricted": info.app_credential.restricted,
        }
    return {"token": body}
