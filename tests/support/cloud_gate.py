"""A served gateway whose sim cloud a test makes hang or break (cloud_gate/sitecustomize.py):
files in the gate directory say what the cloud does, the test removes them to let it answer."""

from __future__ import annotations

from pathlib import Path

from tests.support.gateway import ServedGateway

SITE = Path(__file__).parent / "cloud_gate"


class GatedGateway(ServedGateway):
    """A :class:`ServedGateway` whose sim network obeys ``gate`` (``hang``: ``dhcp_address``
    does not return; ``broken``: ``delete_port`` raises an exception the gateway does not
    map)."""

    def __init__(self, data_dir: Path, gate: Path) -> None:
        super().__init__(data_dir)
        self.gate = gate
        gate.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        env = super().env
        env["PYTHONPATH"] = ":".join(p for p in (str(SITE), env.get("PYTHONPATH", "")) if p)
        env["INTERSTACK_TEST_CLOUD_GATE"] = str(self.gate)
        return env
