"""Where the local network driver's ports are plugged is kept in a file per port beside the
state file, so that a plug writes only that file: a restarted driver finds each plug again,
and a state file from before plug files gives its plugs to them. An unplug deletes the link
outside the driver's lock, and a port made again forgets a plug of its id."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from interstack.backends.contract import NetworkSpec, PortSpec
from interstack.backends.local.network import LocalNetwork, links, names, nft
from interstack.backends.local.network import state as records
from interstack.backends.local.network.state import NetworkState, PortRecord


def _port(ref: str, netns: str | None = None) -> PortRecord:
    ifname = "eth0" if netns else None
    return PortRecord(
        ref=ref,
        gateway_id=ref,
        network="n",
        mac_address="fa:16:3e:00:00:01",
        netns=netns,
        ifname=ifname,
    )


def test_a_plug_is_found_again_from_its_file_not_the_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = records.load(path)
    state.ports["ip-a"] = _port("ip-a")
    state.ports["ip-b"] = _port("ip-b")
    records.save(path, state)
    state.ports["ip-a"].netns, state.ports["ip-a"].ifname = "/run/netns/ls-a", "eth1"
    records.save_plug(path, state.ports["ip-a"])

    again = records.load(path)
    assert (again.ports["ip-a"].netns, again.ports["ip-a"].ifname) == ("/run/netns/ls-a", "eth1")
    assert again.ports["ip-b"].netns is None
    assert "netns" not in json.loads(path.read_text())["ports"]["ip-a"]

    again.ports["ip-a"].netns = again.ports["ip-a"].ifname = None
    records.save_plug(path, again.ports["ip-a"])
    assert records.load(path).ports["ip-a"].netns is None


def test_the_plugs_of_an_older_state_file_move_to_plug_files(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    older = NetworkState(ports={"ip-a": _port("ip-a", "/run/netns/ls-a"), "ip-b": _port("ip-b")})
    path.write_text(older.model_dump_json())

    state = records.load(path)
    records.save(path, state)
    again = records.load(path)
    assert (again.ports["ip-a"].netns, again.ports["ip-a"].ifname) == ("/run/netns/ls-a", "eth0")
    assert again.ports["ip-b"].netns is None


def test_a_deleted_ports_plug_file_goes(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    state = records.load(path)
    state.ports["ip-a"] = _port("ip-a", "/run/netns/ls-a")
    records.save_plug(path, state.ports["ip-a"])
    records.forget_plug(path, "ip-a")
    records.save(path, state)
    assert records.load(path).ports["ip-a"].netns is None


def _driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalNetwork:
    """A driver over a state in ``tmp_path`` that renders no host firewall (no root needed)."""
    monkeypatch.setattr(nft, "replace_tables", lambda tables: None)
    return LocalNetwork(tmp_path / "network", resolvers=[])


def _is_free(lock: threading.RLock) -> bool:
    """Whether another thread could take ``lock`` now (asked from a thread of its own)."""
    answer: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(blocking=False)
        if taken:
            lock.release()
        answer.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return answer == [True]


def test_an_unplug_deletes_the_link_without_the_drivers_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting a veth is slow on a busy host: other ports' operations do not wait for it."""
    driver = _driver(tmp_path, monkeypatch)
    network = driver.create_network(NetworkSpec("net", "net", "project", external=True))
    port = driver.create_port(PortSpec("port", network, "fa:16:3e:00:00:01"))
    record = driver._state.ports[port]
    record.netns, record.ifname = "/run/netns/ls-a", "eth0"
    records.save_plug(driver._state_file, record)
    deleting: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        links, "delete_link", lambda name: deleting.append((name, _is_free(driver._lock)))
    )

    driver.unplug_port(port)
    assert deleting == [(names.renamed(names.PORT, port), True)]
    assert records.load(driver._state_file).ports[port].netns is None


def test_a_port_made_again_with_its_id_has_no_plug_of_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plug file left by a port of the same id (a crash after the plug, before the state
    with that port was saved) does not make the new port plugged after a restart."""
    driver = _driver(tmp_path, monkeypatch)
    network = driver.create_network(NetworkSpec("net", "net", "project", external=True))
    ref = names.ref(names.PORT, "port")
    records.save_plug(driver._state_file, _port(ref, "/run/netns/ls-gone"))

    assert driver.create_port(PortSpec("port", network, "fa:16:3e:00:00:01")) == ref
    restarted = _driver(tmp_path, monkeypatch)
    assert restarted._state.ports[ref].netns is None
