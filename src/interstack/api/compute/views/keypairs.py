"""Key pair JSON: ``type`` from 2.2; the private key only in the create answer."""

from __future__ import annotations

from typing import Any

from interstack.api.microversions import APIVersion
from interstack.services.compute.keypairs import serial
from interstack.services.compute.records import Keypair

V2_2 = APIVersion(2, 2)  # type; create 201, delete 204
V2_10 = APIVersion(2, 10)  # user_id for admins
V2_35 = APIVersion(2, 35)  # paging


def _common(keypair: Keypair, version: APIVersion) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": keypair.name,
        "public_key": keypair.public_key,
        "fingerprint": keypair.fingerprint,
    }
    if version >= V2_2:
        body["type"] = keypair.type
    return body


def created(keypair: Keypair, version: APIVersion) -> dict[str, Any]:
    body = {**_common(keypair, version), "user_id": keypair.user_id}
    if keypair.private_key is not None:
        body["private_key"] = keypair.private_key
    return {"keypair": body}


def listed(keypair: Keypair, version: APIVersion) -> dict[str, Any]:
    return {"keypair": _common(keypair, version)}


def shown(keypair: Keypair, version: APIVersion) -> dict[str, Any]:
    return {
        "keypair": {
            **_common(keypair, version),
            "user_id": keypair.user_id,
            "id": serial(keypair.user_id, keypair.name),
            "created_at": keypair.created_at.replace(tzinfo=None).isoformat(
                timespec="microseconds"
            ),
            "updated_at": None,
            "deleted": False,
            "deleted_at": None,
        }
    }
