"""Request bodies of Neutron v2.0. Unknown attributes are a 400, as Neutron answers them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from interstack.errors import BadRequest

NAME = Field(default="", max_length=255)
DESCRIPTION = Field(default="", max_length=255)
#: attributes a subnet shows but nobody sets (``subnet-external-network``: its network's flag)
SUBNET_READ_ONLY = ("router:external",)


def refuse_read_only(data: Any, names: tuple[str, ...], message: str) -> Any:
    """Neutron's 400 for a read-only attribute in a request body (``message`` names it)."""
    if isinstance(data, dict):
        for name in names:
            if name in data:
                raise BadRequest(message.format(name))
    return data


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Owned(_Strict):
    project_id: str | None = None
    tenant_id: str | None = None

    @property
    def owner(self) -> str | None:
        return self.project_id or self.tenant_id


class NetworkCreate(_Owned):
    name: str = NAME
    description: str = DESCRIPTION
    admin_state_up: bool = True
    shared: bool = False
    external: bool = Field(default=False, alias="router:external")
    mtu: int | None = None
    port_security_enabled: bool = True


class NetworkUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    admin_state_up: bool | None = None
    shared: bool | None = None
    external: bool | None = Field(default=None, alias="router:external")
    mtu: int | None = None
    port_security_enabled: bool | None = None


class Pool(_Strict):
    start: str
    end: str


class HostRoute(_Strict):
    destination: str
    nexthop: str


class SubnetCreate(_Owned):
    network_id: str
    cidr: str | None = None
    ip_version: int = 4
    name: str = NAME
    description: str = DESCRIPTION
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    allocation_pools: list[Pool] | None = None
    dns_nameservers: list[str] = Field(default_factory=list)
    host_routes: list[HostRoute] = Field(default_factory=list)
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None
    subnetpool_id: str | None = None
    prefixlen: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_only(cls, data: Any) -> Any:
        return refuse_read_only(data, SUBNET_READ_ONLY, "Attribute '{}' not allowed in POST")


class SubnetUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    gateway_ip: str | None = None
    enable_dhcp: bool | None = None
    allocation_pools: list[Pool] | None = None
    dns_nameservers: list[str] | None = None
    host_routes: list[HostRoute] | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_only(cls, data: Any) -> Any:
        return refuse_read_only(data, SUBNET_READ_ONLY, "Cannot update read-only attribute {}")


class FixedIpRequest(_Strict):
    subnet_id: str | None = None
    ip_address: str | None = None


class AddressPair(_Strict):
    ip_address: str
    mac_address: str | None = None


class PortCreate(_Owned):
    network_id: str
    name: str = NAME
    description: str = DESCRIPTION
    admin_state_up: bool = True
    mac_address: str | None = None
    fixed_ips: list[FixedIpRequest] | None = None
    device_id: str = Field(default="", max_length=255)
    device_owner: str = Field(default="", max_length=255)
    security_groups: list[str] | None = None
    allowed_address_pairs: list[AddressPair] = Field(default_factory=list)
    port_security_enabled: bool | None = None
    binding_host_id: str = Field(default="", alias="binding:host_id")
    binding_vnic_type: str = Field(default="normal", alias="binding:vnic_type")
    binding_profile: dict[str, Any] | None = Field(default=None, alias="binding:profile")


class PortUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    admin_state_up: bool | None = None
    device_id: str | None = Field(default=None, max_length=255)
    device_owner: str | None = Field(default=None, max_length=255)
    security_groups: list[str] | None = None
    allowed_address_pairs: list[AddressPair] | None = None
    port_security_enabled: bool | None = None
    fixed_ips: list[FixedIpRequest] | None = None
    binding_host_id: str | None = Field(default=None, alias="binding:host_id")
    binding_profile: dict[str, Any] | None = Field(default=None, alias="binding:profile")


class SecurityGroupCreate(_Owned):
    name: str = Field(max_length=255)
    description: str = DESCRIPTION
    stateful: bool = True


class SecurityGroupUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)


class RuleCreate(_Owned):
    security_group_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | int | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = DESCRIPTION


class ExternalFixedIp(_Strict):
    subnet_id: str | None = None
    ip_address: str | None = None


class GatewayInfo(_Strict):
    #: ``{}`` (no network) clears the gateway, as ``router unset --external-gateway`` sends
    network_id: str | None = None
    enable_snat: bool | None = None
    external_fixed_ips: list[ExternalFixedIp] | None = None


class RouterCreate(_Owned):
    name: str = NAME
    description: str = DESCRIPTION
    admin_state_up: bool = True
    external_gateway_info: GatewayInfo | None = None


class RouterUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    admin_state_up: bool | None = None
    external_gateway_info: GatewayInfo | None = None
    routes: list[HostRoute] | None = None


class RouterInterface(_Strict):
    subnet_id: str | None = None
    port_id: str | None = None


class FloatingIpCreate(_Owned):
    floating_network_id: str
    floating_ip_address: str | None = None
    subnet_id: str | None = None
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str = DESCRIPTION


class FloatingIpUpdate(_Strict):
    port_id: str | None = None
    fixed_ip_address: str | None = None
    description: str | None = Field(default=None, max_length=255)


class SubnetPoolCreate(_Owned):
    name: str = NAME
    description: str = DESCRIPTION
    prefixes: list[str]
    default_prefixlen: int | None = None
    min_prefixlen: int | None = None
    max_prefixlen: int | None = None
    shared: bool = False
    is_default: bool = False


class SubnetPoolUpdate(_Strict):
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    prefixes: list[str] | None = None
    default_prefixlen: int | None = None
    min_prefixlen: int | None = None
    max_prefixlen: int | None = None


class Tags(_Strict):
    tags: list[str]


class QuotaValues(_Strict):
    network: int | None = None
    subnet: int | None = None
    subnetpool: int | None = None
    port: int | None = None
    router: int | None = None
    floatingip: int | None = None
    security_group: int | None = None
    security_group_rule: int | None = None
