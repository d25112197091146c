"""The shared Prometheus metrics: one registry per factory call, text exposition."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from core.metrics import create_metrics


def test_metrics_render_as_prometheus_text() -> None:
    metrics = create_metrics()
    metrics.events_accepted.labels(topic="rvrota.site-headcounts").inc(3)
    metrics.events_dead_lettered.labels(topic="rvrota.site-headcounts", field="count").inc()
    metrics.consumer_lag.labels(topic="rvrota.vehicle-status", partition="2").set(17)
    metrics.plan_latency.labels(region="default").observe(1.7)
    metrics.solver_gap.labels(region="default").set(0.004)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
    }
    assert samples[("rvrota_events_accepted_total", (("topic", "rvrota.site-headcounts"),))] == 3
    key = (
        "rvrota_events_dead_lettered_total",
        (("field", "count"), ("topic", "rvrota.site-headcounts")),
    )
    assert samples[key] == 1
    lag = ("rvrota_consumer_lag", (("partition", "2"), ("topic", "rvrota.vehicle-status")))
    assert samples[lag] == 17
    assert samples[("rvrota_plan_latency_seconds_count", (("region", "default"),))] == 1
    le2 = ("rvrota_plan_latency_seconds_bucket", (("le", "2.0"), ("region", "default")))
    le1 = ("rvrota_plan_latency_seconds_bucket", (("le", "1.0"), ("region", "default")))
    assert (samples[le1], samples[le2]) == (0, 1)


def test_each_factory_call_has_its_own_registry() -> None:
    first, second = create_metrics(), create_metrics()
    first.plans_published.labels(region="r").inc()
    assert b'rvrota_plans_published_total{region="r"} 1.0' in first.render()
    assert b"rvrota_plans_published_total{" not in second.render()
