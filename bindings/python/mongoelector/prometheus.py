"""A Prometheus collector of the lockers' and electors' counters (`stats`).

Needs prometheus_client (``pip install 'mongoelector[prometheus]'``), imported
when the collector collects, not when this module is imported::

    from prometheus_client import start_http_server
    from mongoelector.prometheus import register

    register(elector, lock)        # on prometheus_client's default registry
    start_http_server(9100)

Every metric has the labels ``key`` (the lock or group key) and ``role``
("locker" or "elector"). Objects are held weakly and closed ones are left out.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Iterator, Union

from .elector import MongoLeaderElector
from .locker import MongoLocker

if TYPE_CHECKING:  # pragma: no cover
    from prometheus_client.metrics_core import Metric

__all__ = ["MongoElectorCollector", "register"]

Watched = Union[MongoLocker, MongoLeaderElector]

# (metric name, stats field, help); counters then gauges.
_COUNTERS = (
    ("mongoelector_acquisitions_total", "acquisitions", "Holdings won (for an elector: terms)."),
    ("mongoelector_renewals_total", "renewals", "Renewals written."),
    ("mongoelector_failed_renewals_total", "failed_renewals", "Renewals that failed."),
    ("mongoelector_losses_total", "losses", "Holdings or terms that ended without a release."),
    ("mongoelector_takeovers_seen_total", "takeovers_seen", "Losses because another holder was seen."),
    ("mongoelector_leader_transitions_total", "leader_transitions", "Times an elector became or stopped being leader."),
    ("mongoelector_round_trips_total", "round_trips", "Database round trips of the lock."),
)
_GAUGES = (
    ("mongoelector_round_trip_last_seconds", "last_round_trip", "Duration of the latest round trip."),
    ("mongoelector_round_trip_max_seconds", "max_round_trip", "Longest round trip."),
    ("mongoelector_lease_left_seconds", "lease_left", "Time left on the current lease by the holder's clock."),
)
_LABELS = ("key", "role")


def _client() -> Any:
    try:
        import prometheus_client.core as core
    except ImportError as e:
        raise ImportError(
            "mongoelector.prometheus needs prometheus_client: pip install 'mongoelector[prometheus]'"
        ) from e
    return core


class MongoElectorCollector:
    """A prometheus_client collector of the given lockers and electors."""

    def __init__(self, *objects: Watched) -> None:
        self._objects: weakref.WeakSet[Watched] = weakref.WeakSet(objects)

    def add(self, obj: Watched) -> None:
        self._objects.add(obj)

    def remove(self, obj: Watched) -> None:
        self._objects.discard(obj)

    def collect(self) -> Iterator["Metric"]:
        core = _client()
        rows = []
        for obj in list(self._objects):
            if obj.closed:
                continue
            if isinstance(obj, MongoLeaderElector):
                role, leading = "elector", obj.is_leader
            else:
                role, leading = "locker", obj.held
            rows.append(((str(obj.key), role), obj.stats, leading))
        for name, field, doc in _COUNTERS:
            c = core.CounterMetricFamily(name, doc, labels=_LABELS)
            for labels, stats, _ in rows:
                c.add_metric(labels, stats[field])
            yield c
        for name, field, doc in _GAUGES:
            g = core.GaugeMetricFamily(name, doc, labels=_LABELS)
            for labels, stats, _ in rows:
                g.add_metric(labels, stats[field])
            yield g
        g = core.GaugeMetricFamily(
            "mongoelector_is_leader", "1 while the elector leads or the locker holds its lock.", labels=_LABELS
        )
        for labels, _, leading in rows:
            g.add_metric(labels, 1.0 if leading else 0.0)
        yield g


def register(*objects: Watched, registry: Any = None) -> MongoElectorCollector:
    """A collector of `objects`, registered on `registry` (None: prometheus_client's
    default REGISTRY). Add more later with collector.add()."""
    core = _client()
    collector = MongoElectorCollector(*objects)
    (core.REGISTRY if registry is None else registry).register(collector)
    return collector
