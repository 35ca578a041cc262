"""Prometheus metrics at ``/metrics`` (``metrics_enabled``; off by default).

Requests are counted and timed per OpenStack service, region, HTTP method and status; tasks are
counted by region, kind and state, read from the store at each scrape, so every replica reports the
same queue. ``region`` is the configured region a regional service answered for, and empty for the
global identity service (as Prometheus reads an absent label), so one label set serves every
series and queries can sum or filter by region. Labels come from small fixed sets (the catalog's
services, the configured regions, the HTTP methods, the status codes, the task kinds): nothing a
caller sends (project ids in paths, user names, tokens, unknown regions) becomes one.
Each app has a registry of its own, so two gateways in one process never share counts.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence

from fastapi import FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from interstack.services.catalog import ServiceSpec
from interstack.services.tasks import TaskQueue

METRICS_PATH = "/metrics"
#: the methods OpenStack's APIs answer (Swift's COPY among them); anything else counts as "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "COPY"})
OTHER = "other"


#: the region label of what belongs to no region (the identity service, unknown paths)
NO_REGION = ""


class ServiceOfPath:
    """Which catalog service and region a request path belongs to: ``/v3/...`` (no region) or
    ``/{region}/<path>/...``."""

    def __init__(self, specs: Sequence[ServiceSpec], regions: Collection[str]) -> None:
        self.regions = frozenset(regions)
        self.global_services: dict[str, str] = {}
        self.regional_services: dict[str, str] = {}
        for spec in specs:
            table = self.regional_services if spec.regional else self.global_services
            table.setdefault(spec.path.split("/", 1)[0], spec.type)  # an alias keeps the first

    def __call__(self, path: str) -> tuple[str, str]:
        """``(service, region)``; ``(OTHER, NO_REGION)`` for a path of no known service."""
        parts = path.lstrip("/").split("/", 2)
        if parts[0] in self.global_services:
            return self.global_services[parts[0]], NO_REGION
        if len(parts) > 1 and parts[0] in self.regions and parts[1] in self.regional_services:
            return self.regional_services[parts[1]], parts[0]
        return OTHER, NO_REGION


class TaskCounts(Collector):
    """``interstack_tasks{region,kind,state}``: the store's tasks, counted when scraped."""

    def __init__(self, tasks: TaskQueue) -> None:
        self.tasks = tasks

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "interstack_tasks",
            "Persisted tasks by region, kind and state.",
            labels=["region", "kind", "state"],
        )
        for (region, kind, state), count in sorted(self.tasks.counts().items()):
            family.add_metric([region, kind, state], count)
        yield family


class GatewayMetrics:
    """The registry of one gateway and the request metrics its middleware records."""

    def __init__(self, service_of: ServiceOfPath, tasks: TaskQueue) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.service_of = service_of
        labels = ("service", "region", "method", "status")
        self.requests = Counter(
            "interstack_requests",
            "API requests answered, by OpenStack service, region, HTTP method and status.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "interstack_request_duration_seconds",
            "Time from a request's arrival to the end of its response.",
            labels,
            registry=self.registry,
        )
        self.registry.register(TaskCounts(tasks))

    def observe(self, path: str, method: str, status: int, seconds: float) -> None:
        service, region = self.service_of(path)
        labels = (service, region, method if method in METHODS else OTHER, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    def exposition(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every API request (scrapes of ``/metrics`` itself are not counted)."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["path"], scope["method"], status, elapsed)


def serve_metrics(app: FastAPI, metrics: GatewayMetrics) -> None:
    """Record requests and answer ``GET /metrics`` in Prometheus' text format."""
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_api_route(METRICS_PATH, metrics.exposition, methods=["GET"], include_in_schema=False)
