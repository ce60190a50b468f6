"""A real Prometheus server for tests (Debian package `prometheus`), on loopback, and its API.

`fast_rules(dst, for_s)` writes a copy of dashboards/alerts.yml whose alerts wait `for_s`
seconds instead of minutes, each labelled `rules="fast"`, so a test can see an alert fire
without waiting out the real `for`. The real file can be loaded next to it unchanged.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.dashboards.queries import ALERTS_FILE
from tests.support.procs import LOOPBACK, free_port, running

FAST = {"rules": "fast"}


def binary() -> str | None:
    return shutil.which("prometheus")


def fast_rules(dst: Path, for_s: int) -> Path:
    data = yaml.safe_load(ALERTS_FILE.read_text(encoding="utf-8"))
    for group in data["groups"]:
        group["name"] += "-fast"
        for rule in group["rules"]:
            if "alert" in rule:
                rule["labels"] = {**rule.get("labels", {}), **FAST}
                if "for" in rule:
                    rule["for"] = f"{for_s}s"
    dst.write_text(yaml.safe_dump(data, sort_keys=False, width=1000), encoding="utf-8")
    return dst


def config(dst: Path, target: str, rule_files: list[Path]) -> Path:
    """A config that scrapes `target` (host:port) every second as job="botcluster"."""
    data = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": "botcluster", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [target]}]}],
    }
    dst.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return dst


@dataclass(frozen=True)
class Prometheus:
    url: str

    def api(self, path: str, **params: str) -> Any:
        r = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr`, as Prometheus returns it (scalars become one item)."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def values(self, expr: str, by: str) -> dict[str, float]:
        """`expr`'s samples keyed by the value of label `by`."""
        return {s["metric"].get(by, ""): float(s["value"][1]) for s in self.query(expr)}

    def alerts(self, name: str, **labels: str) -> list[dict[str, Any]]:
        """The active (pending or firing) alerts called `name` whose labels include `labels`."""
        want = {"alertname": name, **labels}
        return [a for a in self.api("alerts")["alerts"]
                if want.items() <= a["labels"].items()]


@contextlib.contextmanager
def running_prometheus(tmp: Path, config_file: Path) -> Iterator[Prometheus]:
    exe = binary()
    assert exe is not None
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    cmd = [exe, f"--config.file={config_file}", f"--storage.tsdb.path={tmp / 'tsdb'}",
           f"--web.listen-address={LOOPBACK}:{port}"]
    with running(cmd, ready_url=url + "/-/ready", timeout=30, log=tmp / "prometheus.log"):
        yield Prometheus(url)
