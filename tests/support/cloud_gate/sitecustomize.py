"""Loaded at start-up by a gateway that tests/support/cloud_gate.py serves (this directory first
on its ``PYTHONPATH``): the sim cloud's network answers as the gate directory named by
``INTERSTACK_TEST_CLOUD_GATE`` says. While a file ``hang`` is there, ``dhcp_address`` does not
return (a cloud that hangs); while a file ``broken`` is there, ``delete_port`` raises what the
gateway does not map (a cloud library's bug). The test removes the file: the cloud answers."""

from __future__ import annotations

import os
import time
from pathlib import Path

_GATE = os.environ.get("INTERSTACK_TEST_CLOUD_GATE")


def _gate(gate: Path) -> None:
    try:
        from interstack.backends.contract import NativeRef
        from interstack.backends.sim.network import SimNetwork
    except ImportError:  # a Python without the gateway (a client's): nothing to gate
        return

    answering, deleting = SimNetwork.dhcp_address, SimNetwork.delete_port

    def dhcp_address(self: SimNetwork, ref: NativeRef) -> str | None:
        while (gate / "hang").exists():
            time.sleep(0.05)
        return answering(self, ref)

    def delete_port(self: SimNetwork, ref: NativeRef) -> None:
        if (gate / "broken").exists():
            raise RuntimeError("the cloud's library broke")
        deleting(self, ref)

    SimNetwork.dhcp_address = dhcp_address  # type: ignore[method-assign]
    SimNetwork.delete_port = delete_port  # type: ignore[method-assign]


if _GATE:
    _gate(Path(_GATE))
