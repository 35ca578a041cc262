"""The egress allow-list of the local backend as settings and as host rules (rendered, not
loaded: the traffic itself is tested in tests/backends/local/test_host_isolation.py)."""

from __future__ import annotations

import pytest

from interstack.backends.local.network import firewall
from interstack.backends.local.network.external import ExternalNetwork
from interstack.backends.local.network.state import NetworkState
from interstack.backends.local.settings import LocalSettings
from interstack.config import ConfigError

EXTERNAL = "172.30.250.0/24"


def forward_chain(egress: tuple[str, ...]) -> list[str]:
    tables = {
        family: body
        for family, _, body in firewall.render(NetworkState(), ExternalNetwork(EXTERNAL, egress))
    }
    body = tables["inet"]
    start = body.index("chain forward")
    return body[start : body.index("\n}", start)].splitlines()


def test_the_default_lets_nat_go_anywhere_but_loopback_and_link_local() -> None:
    settings = LocalSettings.parse("r", {})
    assert settings.egress_cidrs == ("0.0.0.0/0",)
    rules = forward_chain(settings.egress_cidrs)
    never = next(r for r in rules if r.endswith(" drop") and "169.254.0.0/16" in r)
    allowed = next(r for r in rules if r.endswith(" accept") and "0.0.0.0/0" in r)
    assert "127.0.0.0/8" in never
    assert rules.index(never) < rules.index(allowed)
    assert rules[rules.index(allowed) + 1] == 'iifname "is-ext" drop'


def test_overlapping_cidrs_are_merged_and_an_empty_list_allows_nothing() -> None:
    merged = forward_chain(("10.0.0.0/8", "10.1.0.0/16", "192.0.2.7"))
    assert any("ip daddr { 10.0.0.0/8, 192.0.2.7/32 } accept" in r for r in merged)
    closed = forward_chain(())
    assert not any("ip daddr" in r and r.endswith("accept") for r in closed)
    assert 'iifname "is-ext" drop' in closed


def test_settings_take_ipv4_networks_only() -> None:
    assert LocalSettings.parse("r", {"egress_cidrs": ["192.0.2.9/24"]}).egress_cidrs == (
        "192.0.2.0/24",
    )
    with pytest.raises(ConfigError, match="egress_cidrs"):
        LocalSettings.parse("r", {"egress_cidrs": ["2001:db8::/32"]})
    with pytest.raises(ConfigError, match="not an IPv4 network"):
        LocalSettings.parse("r", {"egress_cidrs": ["registry"]})
