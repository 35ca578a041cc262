"""Swift through the clients people use: python-swiftclient (library and ``swift`` CLI), the
``openstack`` CLI and openstacksdk, each authenticating from the gateway's clouds.yaml."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
from swiftclient import client as swiftclient

from tests.support.gateway import ServedGateway
from tests.support.identity import unique
from tests.support.swift import swift_cli, swiftclient_connection


def test_swiftclient_library(gateway: ServedGateway) -> None:
    conn = swiftclient_connection(gateway, "interstack")
    name = unique("lib")
    conn.put_container(name, headers={"X-Container-Meta-Purpose": "tests"})
    etag = conn.put_object(name, "docs/readme.md", b"# hi\n", content_type="text/markdown")
    assert etag == hashlib.md5(b"# hi\n").hexdigest()
    conn.put_object(name, "docs/other.md", b"other")
    headers, body = conn.get_object(name, "docs/readme.md")
    assert body == b"# hi\n"
    assert headers["content-type"] == "text/markdown"
    headers, listing = conn.get_container(name, prefix="docs/", delimiter="/")
    assert headers["x-container-meta-purpose"] == "tests"
    assert [o["name"] for o in listing] == ["docs/other.md", "docs/readme.md"]
    conn.post_object(name, "docs/readme.md", headers={"X-Object-Meta-Reviewed": "yes"})
    assert conn.head_object(name, "docs/readme.md")["x-object-meta-reviewed"] == "yes"
    account, containers = conn.get_account(prefix=name)
    assert [c["name"] for c in containers] == [name]
    assert int(account["x-account-object-count"]) >= 2
    info = conn.get_capabilities()
    assert "slo" in info and "tempurl" in info
    try:
        conn.delete_container(name)
    except swiftclient.ClientException as exc:
        assert exc.http_status == 409
    else:
        raise AssertionError("a non-empty container was deleted")
    for obj in ("docs/readme.md", "docs/other.md"):
        conn.delete_object(name, obj)
    conn.delete_container(name)
    conn.close()


def test_swift_cli_post_upload_list_stat_download_delete(
    gateway: ServedGateway, tmp_path: Path
) -> None:
    name = unique("cli")
    swift_cli(gateway, "interstack", "post", name, "--meta", "Color:green")
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("alpha\n")
    (source / "sub" / "b.txt").write_text("beta\n")
    swift_cli(gateway, "interstack", "upload", name, "a.txt", "sub/b.txt", cwd=source)
    listed = swift_cli(gateway, "interstack", "list", name, "--prefix", "sub/").stdout.split()
    assert listed == ["sub/b.txt"]
    stat = swift_cli(gateway, "interstack", "stat", name).stdout
    assert "Objects: 2" in stat and "Meta Color: green" in stat
    account_stat = swift_cli(gateway, "interstack", "stat").stdout
    assert "Account: AUTH_" in account_stat and "Containers:" in account_stat
    target = tmp_path / "out"
    target.mkdir()
    swift_cli(gateway, "interstack", "download", name, cwd=target)
    assert (target / "a.txt").read_text() == "alpha\n"
    assert (target / "sub" / "b.txt").read_text() == "beta\n"
    swift_cli(gateway, "interstack", "delete", name)
    gone = swift_cli(gateway, "interstack", "stat", name, check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_swift_tempurl_gives_time_limited_access(gateway: ServedGateway, tmp_path: Path) -> None:
    name = unique("tmp")
    key = unique("key")
    swift_cli(gateway, "interstack", "post", "--meta", f"Temp-URL-Key:{key}")
    (tmp_path / "f.bin").write_bytes(b"temporary")
    swift_cli(gateway, "interstack", "upload", name, "f.bin", cwd=tmp_path)
    storage = swift_cli(gateway, "interstack", "auth").stdout
    url = next(
        line.split("=", 1)[1].strip("'\"")
        for line in storage.splitlines()
        if "OS_STORAGE_URL" in line
    )
    path = f"{httpx.URL(url).path}/{name}/f.bin"
    signed = swift_cli(gateway, "interstack", "tempurl", "GET", "60", path, key).stdout.strip()
    base = f"{httpx.URL(url).scheme}://{httpx.URL(url).netloc.decode()}"
    response = httpx.get(base + signed)
    assert response.status_code == 200, response.text
    assert response.content == b"temporary"
    assert httpx.put(base + signed, content=b"x").status_code == 401
    sha512 = swift_cli(
        gateway, "interstack", "tempurl", "--digest", "sha512", "GET", "60", path, key
    ).stdout.strip()
    assert httpx.get(base + sha512).content == b"temporary"


def test_openstack_cli_containers_and_objects(gateway: ServedGateway, tmp_path: Path) -> None:
    """The commands run in one ``openstack`` process (:meth:`ServedGateway.cli_batch`); each
    must succeed."""
    name = unique("osc")
    source = tmp_path / "note.txt"
    source.write_text("from the openstack CLI\n")
    saved = tmp_path / "saved.txt"
    created, _, listed, shown, *_ = gateway.cli_batch(
        "interstack",
        ["container", "create", name, "-f", "json"],
        ["object", "create", name, str(source), "--name", "note.txt"],
        ["object", "list", name, "-f", "json"],
        ["container", "show", name, "-f", "json"],
        ["object", "save", name, "note.txt", "--file", str(saved)],
        ["object", "delete", name, "note.txt"],
        ["container", "delete", name],
    )
    assert json.loads(created)[0]["container"] == name
    assert [o["Name"] for o in json.loads(listed)] == ["note.txt"]
    shown = json.loads(shown)
    assert shown["container"] == name
    assert int(shown["object_count"]) == 1
    assert saved.read_text() == "from the openstack CLI\n"


def test_openstacksdk_object_store(gateway: ServedGateway) -> None:
    conn = gateway.connect("interstack")
    name = unique("sdk")
    conn.object_store.create_container(name=name)
    conn.object_store.set_container_metadata(name, owner="sdk")
    conn.object_store.upload_object(container=name, name="data.bin", data=b"\x00\x01" * 1000)
    assert conn.object_store.download_object("data.bin", container=name) == b"\x00\x01" * 1000
    objects = [o.name for o in conn.object_store.objects(name)]
    assert objects == ["data.bin"]
    container = conn.object_store.get_container_metadata(name)
    assert container.metadata.get("owner") == "sdk"
    assert container.object_count == 1
    info = conn.object_store.get_info()
    assert info.swift["max_file_size"] == 5 * 1024**3
    conn.object_store.delete_object("data.bin", container=name)
    conn.object_store.delete_container(name)
    assert name not in [c.name for c in conn.object_store.containers()]
    conn.close()
