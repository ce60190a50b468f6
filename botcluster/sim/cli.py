"""`botcluster sim CLUSTER.toml`: serve simulated hosts until SIGTERM or SIGINT (exit 0).

Prints `NAME URL` per host once all listen, and with `--ports-file` writes the same as JSON
(name -> url) so that other processes can find the hosts.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import click

from botcluster.errors import ConfigError
from botcluster.sim.cluster import SimCluster


async def serve(cluster: SimCluster, ports_file: Path | None) -> None:
    """Start, announce, wait for a signal, stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    try:
        if ports_file is not None:  # first, so a reader of our stdout finds it complete
            tmp = ports_file.with_name(ports_file.name + ".tmp")
            tmp.write_text(json.dumps(cluster.urls, indent=2) + "\n")
            os.replace(tmp, ports_file)  # readers never see a half-written file
        for name, url in cluster.urls.items():
            click.echo(f"{name} {url}")
        sys.stdout.flush()
        await stop.wait()
    finally:
        await cluster.stop()


@click.command("sim")
@click.argument("cluster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seed", type=int, default=None, help="Override the file's seed.")
@click.option("--time-scale", type=float, default=None,
              help="Real seconds per simulated second (0.01 = 100x faster).")
@click.option("--ports-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write {host name: url} as JSON here once listening.")
def sim(cluster_file: Path, seed: int | None, time_scale: float | None,
        ports_file: Path | None) -> None:
    """Run simulated LM Studio / Ollama / llama.cpp hosts from CLUSTER_FILE."""
    try:
        cluster = SimCluster.from_file(cluster_file, seed=seed, time_scale=time_scale)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        import uvloop

        uvloop.run(serve(cluster, ports_file))
    except ImportError:
        asyncio.run(serve(cluster, ports_file))
