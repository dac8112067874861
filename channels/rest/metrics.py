"""`/metrics` in Prometheus text format.

Request counts and latency are measured here, per route template. Model calls, risk decisions
and orders are counted by the journal when scraped (`CompanionService.activity_counts`), so the
figures survive restarts and include every channel.
The broker connection and trading state are read from the health monitor (or the terminal).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"



class JournalCollector(Collector):
    """Counts from the journal, read at scrape time."""

    def __init__(self, counts: Callable[[], dict[str, list[tuple[Any, ...]]]],
                 state: Callable[[], dict[str, Any]]) -> None:
        self.counts = counts
        self.state = state

    def collect(self) -> Iterator[Any]:
        rows = self.counts()
        calls = CounterMetricFamily("companion_model_calls", "Model calls by model and outcome.",
                                    labels=["model", "provider", "outcome"])
        for model, provider, outcome, n in rows["model_calls"]:
            calls.add_metric([model or "", provider or "", outcome], n)
        decisions = CounterMetricFamily("companion_risk_decisions",
                                        "Risk engine decisions by verdict.", labels=["verdict"])
        for verdict, n in rows["decisions"]:
            decisions.add_metric([verdict], n)
        denials = CounterMetricFamily("companion_risk_denials",
                                      "Failed risk rules by reason code.", labels=["code"])
        for code, n in rows["denials"]:
            denials.add_metric([code or ""], n)
        orders = CounterMetricFamily("companion_orders", "Orders sent by outcome.",
                                     labels=["outcome"])
        for outcome, n in rows["orders"]:
            orders.add_metric([outcome or ""], n)
        yield from (calls, decisions, denials, orders, *self._state_gauges())

    def _state_gauges(self) -> Iterator[GaugeMetricFamily]:
        state = self.state()
        yield GaugeMetricFamily("companion_broker_connected", "1 when the terminal is connected "
                                "to the trade server.", value=float(bool(state.get("connected"))))
        trading = GaugeMetricFamily("companion_trading_state", "1 for the current trading state.",
                                    labels=["state"])
        for name in ("ACTIVE", "REDUCING", "HALTED"):
            trading.add_metric([name], float(state.get("trading_state") == name))
        yield trading


class ApiMetrics:
    """The API's own registry: request counter and latency histogram, plus the journal's
    counts (`counts`, blocking: scraped on a worker thread) and the connection state."""

    def __init__(self, counts: Callable[[], dict[str, list[tuple[Any, ...]]]],
                 state: Callable[[], dict[str, Any]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("companion_api_requests", "HTTP requests by route and status.",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("companion_api_request_seconds", "HTTP request latency.",
                                 ["route"], registry=self.registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5,
                                          5, 10))
        self.registry.register(JournalCollector(counts, state))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
