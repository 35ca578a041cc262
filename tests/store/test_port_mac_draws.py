"""A port's MAC address drawn at random is not looked for on its network first: one a port of
the network already holds is refused by the unique (network, MAC) key, and the unit of work,
run again, draws another. On both databases: the port is made with the second draw, the
first port keeps its own, nothing else is recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from interstack.backends.contract import Backend
from interstack.services.listing import Page
from interstack.services.network import port_records
from interstack.services.network.ports import PortCreate
from interstack.store import Database
from tests.support.routed import REGION, Routed


def test_a_drawn_mac_a_port_of_the_network_holds_is_drawn_again(
    db: Database, cloud: Backend, routed: Routed, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, ctx = routed.services, routed.ctx
    first = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id))
    draws: Iterator[str] = iter([first.mac_address, "fa:16:3e:00:00:02"])
    monkeypatch.setattr(port_records, "new_mac", lambda: next(draws))

    second = services.ports.create(ctx, REGION, PortCreate(network_id=routed.network_id))

    assert second.mac_address == "fa:16:3e:00:00:02"
    ports = {p.id: p.mac_address for p in services.ports.list_page(ctx, REGION, {}, Page())}
    assert ports == {first.id: first.mac_address, second.id: "fa:16:3e:00:00:02"}
