"""Prometheus metrics at ``/metrics``: counts that move with requests and tasks, labels that
carry no caller's data, and no endpoint at all unless the config enables it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateway import ServedGateway
from tests.support.identity import client
from tests.support.network import neutron
from tests.support.volume import cinder, create_volume
from tests.support.waiting import eventually

Labels = tuple[tuple[str, str], ...]
#: the metered gateway's two regions, both on sim
REGIONS = ("RegionOne", "RegionTwo")


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    served = ServedGateway(
        tmp_path_factory.mktemp("metrics") / "data",
        config={
            "metrics_enabled": True,
            "regions": [{"name": name, "backend": "sim"} for name in REGIONS],
        },
    ).start()
    yield served
    served.stop()


def _scrape(gateway: ServedGateway) -> tuple[str, dict[tuple[str, Labels], float]]:
    """The exposition text and its samples, by name and sorted labels."""
    response = httpx.get(f"{gateway.url}/metrics", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return response.text, samples


def _request_labels(service: str, region: str, method: str, status: int) -> Labels:
    return (("method", method), ("region", region), ("service", service), ("status", str(status)))


def test_request_counts_and_latencies_move_per_service_region_method_and_status(
    metered: ServedGateway,
) -> None:
    _, before = _scrape(metered)
    token = metered.token("interstack")  # POST /v3/auth/tokens: 201
    with neutron(metered, token) as network:
        assert network.get("/networks").status_code == 200
        assert network.get("/networks").status_code == 200
        assert network.get("/networks/no-such-network").status_code == 404
    with neutron(metered, token, region="RegionTwo") as network:
        assert network.get("/networks").status_code == 200
    with neutron(metered, token, region="NoSuchRegion") as network:
        assert network.get("/networks").status_code == 404
    _, after = _scrape(metered)

    def moved(name: str, labels: Labels) -> float:
        return after.get((name, labels), 0.0) - before.get((name, labels), 0.0)

    # identity is global: its region label is empty, which Prometheus reads as no label
    issued = _request_labels("identity", "", "POST", 201)
    listed = _request_labels("network", "RegionOne", "GET", 200)
    missing = _request_labels("network", "RegionOne", "GET", 404)
    assert moved("interstack_requests_total", issued) == 1
    assert moved("interstack_requests_total", listed) == 2
    assert moved("interstack_requests_total", missing) == 1
    listed_in_two = _request_labels("network", "RegionTwo", "GET", 200)
    assert moved("interstack_requests_total", listed_in_two) == 1
    # a region no one configured is no label value: the request counts as no service's
    assert moved("interstack_requests_total", _request_labels("other", "", "GET", 404)) == 1
    assert not any("NoSuchRegion" in value for _, labels in after for _, value in labels)
    assert moved("interstack_request_duration_seconds_count", listed) == 2
    assert after[("interstack_request_duration_seconds_sum", listed)] > 0
    infinite = tuple(sorted((*listed, ("le", "+Inf"))))
    assert (
        after[("interstack_request_duration_seconds_bucket", infinite)]
        == (after[("interstack_request_duration_seconds_count", listed)])
    )
    # the scrapes themselves (answered 200) are not requests of any service
    assert not any(
        dict(labels)["service"] == "other" and dict(labels)["status"] == "200"
        for name, labels in after
        if name == "interstack_requests_total"
    )


def test_task_counts_by_region_kind_and_state_with_no_caller_data_in_labels(
    metered: ServedGateway,
) -> None:
    token = metered.token("interstack")
    with client(metered, token) as identity_api:
        me = identity_api.get("/v3/auth/tokens", headers={"X-Subject-Token": token})
    identity = me.json()["token"]
    project_id, user_name = identity["project"]["id"], identity["user"]["name"]
    _, before = _scrape(metered)
    with cinder(metered, token, project_id) as volumes:
        create_volume(volumes, name="metered")
    # the task is marked done just after the volume it made is available
    labels = (("kind", "volume.create"), ("region", "RegionOne"), ("state", "succeeded"))
    done = ("interstack_tasks", labels)
    text, after = eventually(
        lambda: _scrape(metered),
        lambda scraped: scraped[1].get(done, 0.0) == before.get(done, 0.0) + 1,
        "the volume.create task counted as succeeded",
    )
    created = _request_labels("block-storage", "RegionOne", "POST", 202)
    assert after[("interstack_requests_total", created)]
    for secret in (project_id, token, f'"{user_name}"'):
        assert secret not in text


def test_no_metrics_endpoint_unless_enabled(gateway: ServedGateway) -> None:
    assert httpx.get(f"{gateway.url}/metrics", timeout=30).status_code == 404
