"""Per-model metrics and the "loading" state, from the dispatcher through the publisher (the
one writer of these series) to the registry a scrape reads; and the new host keys."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from botcluster.core.publisher import MetricsPublisher
from botcluster.core.status import render
from tests.config.builders import BASE, load_error, load_text
from tests.core.helpers import Clock, dispatcher, entity, host, job


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_queue_wait_loads_and_loading_time_are_counted_per_model(tmp_path: Path) -> None:
    config = load_text(tmp_path, BASE)
    publisher = MetricsPublisher(config)
    clock = Clock()
    d = dispatcher([host("pm-h", slots=2, loaded=("pm-a",), memory_gb=64,
                         sizes={"pm-a": 4, "pm-b": 8}, load_lane=True)],
                   entities=[entity("e1", "pm-a"), entity("e2", "pm-b")], clock=clock)
    loads_before = _value("botcluster_model_loads_by_model_total", model="pm-b", outcome="ok")
    d.offer([job("a1", "pm-a", "e1", at=clock.now - 30), job("b1", "pm-b", "e2"),
             job("b2", "pm-b", "e2")])
    hit, load = d.claim("w"), d.claim("w")
    assert hit is not None and load is not None and load.lease.load
    clock.advance(12)
    publisher.publish(d.snapshot(), workers_alive=1)
    assert _value("botcluster_model_loading", host="pm-h", model="pm-b") == 1
    assert _value("botcluster_model_queue_ready", model="pm-b") == 1
    assert _value("botcluster_model_queue_oldest_wait_seconds", model="pm-b") == 12
    assert _value("botcluster_model_queue_wait_seconds_count", model="pm-a") >= 1
    assert "loading pm-b for 12s" in render({**d.view(), "heal_pending": 0})
    d.load_finished(load.lease.lease_id, True, 4096)
    publisher.publish(d.snapshot(), workers_alive=1)
    assert _value("botcluster_model_loading", host="pm-h", model="pm-b") == 0
    assert _value("botcluster_model_loads_by_model_total", model="pm-b",
                  outcome="ok") == loads_before + 1
    assert _value("botcluster_model_loading_seconds_total", host="pm-h", model="pm-b") >= 12
    assert _value("botcluster_model_load_duration_seconds_sum", model="pm-b") >= 12


def test_host_keys_for_capacity_pins_and_speeds(tmp_path: Path) -> None:
    text = BASE.replace('kind = "lmstudio"\n', 'kind = "lmstudio"\nslots = 4\nparallel = 2\n'
                        'models = ["m1", "m2"]\npinned = ["m1"]\nload_gb_per_s = 5.5\n')
    h = load_text(tmp_path, text).hosts[0]
    assert (h.slots, h.parallel, h.pinned, h.load_gb_per_s) == (4, 2, ("m1",), 5.5)
    assert h.load_lane, "a host of more than one slot loads beside generation by default"
    serial = load_text(tmp_path, BASE).hosts[0]
    assert serial.slots == 1 and not serial.load_lane
    err = load_error(tmp_path, BASE.replace('kind = "lmstudio"\n',
                                            'kind = "lmstudio"\nmodels = ["m1"]\n'
                                            'pinned = ["m9"]\n'))
    assert "pinned" in str(err)
    err = load_error(tmp_path, BASE.replace('kind = "lmstudio"\n',
                                            'kind = "lmstudio"\nparallel = 0\n'))
    assert "parallel" in str(err)
