"""A port whose deletion the cloud fails, through openstacksdk on a sim gateway whose cloud
refuses to delete ports of a MAC prefix: the DELETE is a 500, and the port stays whole (shown,
its floating IP still associated with it) and taken by nothing (a router's add is a 404, the
port being deleted); the cloud answering again (the gateway restarted without the fault), the
DELETE asked again finishes it and the floating IP is unassociated."""

from __future__ import annotations

from pathlib import Path

import openstack.exceptions
import pytest
import yaml

from tests.support.gateway import CHEAP_PASSWORD_HASHING, SIM_REGION, ServedGateway
from tests.support.identity import unique

DOOMED_MAC = "fa:16:3e:0d:00:01"
REFUSING = {
    "regions": [
        {
            "name": "RegionOne",
            "backend": "sim",
            "settings": {"fail_on": {"delete_port": {"name": "fa:16:3e:0d:00:*"}}},
        }
    ]
}


def test_a_port_the_cloud_fails_to_delete_stays_whole_and_a_retried_delete_ends_it(
    tmp_path: Path,
) -> None:
    with ServedGateway(tmp_path / "data", config=REFUSING) as served:
        admin, conn = served.connect("interstack-admin"), served.connect("interstack")
        public = admin.network.create_network(name=unique("public"), is_router_external=True)
        admin.network.create_subnet(
            network_id=public.id, cidr="203.0.113.0/24", ip_version=4, is_dhcp_enabled=False
        )
        network = conn.network.create_network(name=unique("n"))
        subnet = conn.network.create_subnet(
            network_id=network.id, cidr="10.77.0.0/24", ip_version=4, is_dhcp_enabled=False
        )
        router = conn.network.create_router(
            name=unique("r"), external_gateway_info={"network_id": public.id}
        )
        conn.network.add_interface_to_router(router, subnet=subnet.id)
        port = conn.network.create_port(network_id=network.id, mac_address=DOOMED_MAC)
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=port.id)

        with pytest.raises(openstack.exceptions.HttpException) as refused:
            conn.network.delete_port(port)
        assert refused.value.status_code == 500
        assert conn.network.get_port(port.id).mac_address == DOOMED_MAC
        associated = conn.network.get_ip(fip.id)
        assert (associated.port_id, associated.status) == (port.id, "ACTIVE")
        other = conn.network.create_router(name=unique("other"))
        with pytest.raises(openstack.exceptions.NotFoundException):
            conn.network.add_interface_to_router(other, port=port.id)

        config = {"regions": [SIM_REGION], **CHEAP_PASSWORD_HASHING}
        served.config_file.write_text(yaml.safe_dump(config))
        served.restart()
        conn = served.connect("interstack")
        conn.network.delete_port(port.id)
        assert conn.network.find_port(port.id) is None
        unassociated = conn.network.get_ip(fip.id)
        assert (unassociated.port_id, unassociated.status) == (None, "DOWN")
