"""Swift's middleware features over raw HTTP: temporary URLs, account and container quotas,
object expiry, bulk delete."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.gateway import ServedGateway
from tests.support.identity import member_of, unique
from tests.support.swift import swift_client
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def admin_swift(
    gateway: ServedGateway, admin_token: str, demo_token: str
) -> Iterator[httpx.Client]:
    """The admin's token on the demo project's account."""
    with swift_client(gateway, demo_token) as demo:
        base = str(demo.base_url)
    with httpx.Client(base_url=base, headers={"X-Auth-Token": admin_token}, timeout=60) as http:
        yield http


def signed(
    key: str, method: str, expires: int, path: str, digest: str = "sha256"
) -> dict[str, str]:
    """The query of a temp URL, signed as swiftclient signs it."""
    message = f"{method}\n{expires}\n{path}".encode()
    signature = hmac.new(key.encode(), message, getattr(hashlib, digest)).hexdigest()
    return {"temp_url_sig": signature, "temp_url_expires": str(expires)}


def test_temp_urls(swift: httpx.Client, container: str) -> None:
    key = unique("secret")
    assert swift.post("", headers={"X-Account-Meta-Temp-URL-Key": key}).status_code == 204
    # Swift shows the key to the account's owner
    assert swift.head("").headers["x-account-meta-temp-url-key"] == key
    swift.put(f"/{container}/doc", content=b"signed", headers={"X-Object-Meta-Secret": "s"})
    account = httpx.URL(str(swift.base_url))
    path = f"{account.path.rstrip('/')}/{container}/doc"
    full = f"{account.scheme}://{account.netloc.decode()}{path}"
    expires = int(time.time()) + 60
    for digest in ("sha1", "sha256", "sha512"):
        query = signed(key, "GET", expires, path, digest)
        response = httpx.get(full, params=query)
        assert response.status_code == 200, response.text
        assert response.content == b"signed"
        assert "x-object-meta-secret" not in response.headers
        assert httpx.head(full, params=query).status_code == 200
    # Swift's own /v1/... path is accepted as the signed path too
    v1_path = path[path.index("/v1/") :]
    query = signed(key, "GET", expires, v1_path)
    assert httpx.get(full, params=query).content == b"signed"
    bad = signed("wrong", "GET", expires, path)
    assert httpx.get(full, params=bad).status_code == 401
    past = int(time.time()) - 1
    old = signed(key, "GET", past, path)
    assert httpx.get(full, params=old).status_code == 401
    get_only = signed(key, "GET", expires, path)
    assert httpx.put(full, params=get_only, content=b"x").status_code == 401
    put = signed(key, "PUT", expires, path)
    assert httpx.put(full, params=put, content=b"replaced").status_code == 201
    assert swift.get(f"/{container}/doc").content == b"replaced"
    other = f"{full}-other"
    assert httpx.get(other, params=get_only).status_code == 401
    # the second key works too, and a container key signs its own objects
    key2 = unique("second")
    swift.post("", headers={"X-Account-Meta-Temp-URL-Key-2": key2})
    query = signed(key2, "GET", expires, path)
    assert httpx.get(full, params=query).status_code == 200
    ckey = unique("ckey")
    swift.post(f"/{container}", headers={"X-Container-Meta-Temp-URL-Key": ckey})
    query = signed(ckey, "GET", expires, path)
    assert httpx.get(full, params=query).status_code == 200
    swift.post("", headers={"X-Remove-Account-Meta-Temp-URL-Key": "x"})
    query = signed(key, "GET", expires, path)
    assert httpx.get(full, params=query).status_code == 401


def test_container_quotas(swift: httpx.Client, container: str) -> None:
    quota = {"X-Container-Meta-Quota-Bytes": "10", "X-Container-Meta-Quota-Count": "2"}
    assert swift.post(f"/{container}", headers=quota).status_code == 204
    assert swift.put(f"/{container}/a", content=b"12345").status_code == 201
    over = swift.put(f"/{container}/b", content=b"123456")
    assert over.status_code == 413
    assert "quota" in over.text.lower()
    assert swift.head(f"/{container}/b").status_code == 404
    assert swift.put(f"/{container}/b", content=b"12345").status_code == 201
    assert swift.put(f"/{container}/c", content=b"").status_code == 413  # count
    chunked = swift.put(f"/{container}/d", content=iter([b"1" * 8]))  # no Content-Length
    assert chunked.status_code == 413
    bad = swift.post(f"/{container}", headers={"X-Container-Meta-Quota-Bytes": "lots"})
    assert bad.status_code == 400


def test_account_quota_is_set_by_the_admin_only(
    swift: httpx.Client, admin_swift: httpx.Client, container: str
) -> None:
    used = int(swift.head("").headers["x-account-bytes-used"])
    assert swift.post("", headers={"X-Account-Meta-Quota-Bytes": "1"}).status_code == 403
    quota = {"X-Account-Meta-Quota-Bytes": str(used + 10)}
    assert admin_swift.post("", headers=quota).status_code == 204
    try:
        assert swift.put(f"/{container}/fits", content=b"x" * 10).status_code == 201
        assert swift.put(f"/{container}/over", content=b"x").status_code == 413
    finally:
        assert (
            admin_swift.post("", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"}).status_code
            == 204
        )
    assert swift.put(f"/{container}/over", content=b"x").status_code == 201


def test_a_reseller_admin_reaches_every_account_and_sets_its_quota(
    gateway: ServedGateway, swift: httpx.Client, container: str
) -> None:
    """The ``ResellerAdmin`` role exists from the first start, as Tempest's account quota
    tests expect, and acts on other projects' accounts like Swift's reseller admin."""
    reseller, member = member_of(gateway, role="ResellerAdmin"), member_of(gateway)
    base = str(swift.base_url)
    headers = {"X-Auth-Token": reseller.token(gateway)}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as as_reseller:
        assert as_reseller.get(f"/{container}").status_code in (200, 204)
        quota = {"X-Account-Meta-Quota-Bytes": "123456789"}
        assert as_reseller.post("", headers=quota).status_code == 204
        assert swift.head("").headers["x-account-meta-quota-bytes"] == "123456789"
        removed = as_reseller.post("", headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
        assert removed.status_code == 204
    assert "x-account-meta-quota-bytes" not in swift.head("").headers
    headers = {"X-Auth-Token": member.token(gateway)}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as outsider:
        assert outsider.get(f"/{container}").status_code == 403


def test_expiring_objects_vanish_and_are_reaped(
    gateway: ServedGateway, swift: httpx.Client, container: str
) -> None:
    objects_dir = gateway.data_dir / "backends" / "RegionOne" / "objects"

    def stored_files() -> set[Path]:
        return {p for p in objects_dir.rglob("*.obj")}

    before = stored_files()
    assert (
        swift.put(f"/{container}/soon", content=b"x", headers={"X-Delete-After": "1"}).status_code
        == 201
    )
    at = int(time.time()) + 3600
    swift.put(f"/{container}/later", content=b"y", headers={"X-Delete-At": str(at)})
    assert swift.head(f"/{container}/later").headers["x-delete-at"] == str(at)
    assert (
        swift.put(f"/{container}/bad", content=b"", headers={"X-Delete-At": "1"}).status_code == 400
    )
    assert len(stored_files() - before) == 2
    # X-Delete-After counts whole seconds: the object goes within two, and a GET then is a 404
    eventually(
        lambda: swift.get(f"/{container}/soon").status_code,
        lambda status: status == 404,
        "the object to expire",
    )
    assert swift.get(f"/{container}", params={"format": "json"}).json()[0]["name"] == "later"
    assert len(stored_files() - before) == 1  # the listing reaped the expired one's bytes
    swift.post(f"/{container}/later", headers={"X-Remove-Delete-At": "x"})
    assert "x-delete-at" not in swift.head(f"/{container}/later").headers


def test_bulk_delete(swift: httpx.Client, container: str) -> None:
    for name in ("one", "two", "dir/three"):
        swift.put(f"/{container}/{name}", content=b"x")
    empty = unique("bulk-empty")
    swift.put(f"/{empty}")
    body = "\n".join(
        [
            f"/{container}/one",
            f"{container}/two",
            f"/{container}/dir%2Fthree",
            f"/{container}/missing",
            f"/{empty}",
        ]
    )
    response = swift.post(
        "",
        params={"bulk-delete": ""},
        content=body.encode(),
        headers={"Content-Type": "text/plain", "Accept": "application/json"},
    )
    assert response.status_code == 200
    result = response.json()
    assert result["Number Deleted"] == 4
    assert result["Number Not Found"] == 1
    assert result["Response Status"] == "200 OK"
    assert result["Errors"] == []
    assert swift.get(f"/{container}").status_code == 204
    assert swift.head(f"/{empty}").status_code == 404
    swift.put(f"/{container}/kept", content=b"x")
    conflict = swift.post(
        "",
        params={"bulk-delete": ""},
        content=f"/{container}".encode(),
        headers={"Accept": "application/json"},
    ).json()
    assert conflict["Errors"] == [[f"/{container}", "409 Conflict"]]
    assert conflict["Response Status"] == "400 Bad Request"
