"""Where the local network driver's ports are plugged is kept in a file per port beside the
state file, so that a plug writes only that file: a restarted driver finds each plug again,
and a state file from before plug files gives its plugs to them."""

from __future__ import annotations

import json
from pathlib import Path

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
