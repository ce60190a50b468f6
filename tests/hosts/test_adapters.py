"""Host adapters against the hosts' documented answers (HOSTS.md), through fake transports.

The simulator exercises the adapters over real HTTP elsewhere; these pin each parsing and
error-translation rule, including answers the simulator does not give (old LM Studio versions).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from botcluster.config.model import HostConfig, frozen_map
from botcluster.errors import ContextOverflow, GenerationError, HostDown, OutOfMemory
from botcluster.hosts.adapters import adapter_for

Routes = dict[tuple[str, str], tuple[int, Any]]

# The chat client's HTTP package: httpx before openai 3, httpx2 from openai 3 on.
CHAT_HTTP: Any = importlib.import_module(
    openai.DefaultAsyncHttpxClient.__mro__[1].__module__.split(".")[0])


def _transport(routes: Routes) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        status, body = routes.get((request.method, request.url.path), (404, {"error": "nf"}))
        return httpx.Response(status, json=body)
    return httpx.MockTransport(handle)


def _chat_transport(handler: Callable[[Any], Any]) -> Any:
    return CHAT_HTTP.MockTransport(handler)


def _host(kind: str, **kw: Any) -> HostConfig:
    return HostConfig(name="h", url="http://127.0.0.1:1", kind=kind, **kw)  # type: ignore[arg-type]


V1 = {"models": [
    {"key": "the-eternal@f16", "size_bytes": 16e9, "loaded_instances": [
        {"id": "the-eternal@f16", "config": {"context_length": 8192, "parallel": 4}}]},
    {"key": "the-oracle@f16", "size_bytes": 8e9, "loaded_instances": []},
]}


def test_lmstudio_v1_reports_loaded_instances_slots_and_sizes() -> None:
    a = adapter_for(_host("lmstudio"), transport=_transport({("GET", "/api/v1/models"): (200, V1)}))
    r = asyncio.run(a.state())
    assert r.up and r.loaded == {"the-eternal@f16": 8192}
    assert r.slots is None and r.parallel == {"the-eternal@f16": 4}  # per instance, not host
    assert r.sizes_gb == {"the-eternal@f16": 16.0, "the-oracle@f16": 8.0}
    assert a.can_load


def test_lmstudio_falls_back_to_v0_state_then_to_jit() -> None:
    v0 = {"data": [{"id": "a", "state": "loaded", "loaded_context_length": 4096},
                   {"id": "b", "state": "not-loaded"}]}
    a = adapter_for(_host("lmstudio"), transport=_transport({("GET", "/api/v0/models"): (200, v0)}))
    r = asyncio.run(a.state())
    assert r.loaded == {"a": 4096} and not a.can_load
    jit = adapter_for(_host("lmstudio"), transport=_transport(
        {("GET", "/v1/models"): (200, {"data": [{"id": "a"}, {"id": "b"}]})}))
    r = asyncio.run(jit.state())
    assert r.serves_any and r.loaded == {} and not jit.can_load
    fresh = adapter_for(_host("lmstudio"))
    assert fresh.can_load, "one old host must not switch off loads for every LM Studio host"


def test_lmstudio_load_out_of_memory_is_its_own_error() -> None:
    oom = {"error": "Failed to load model: insufficient system resources (requires 40 GB)"}
    a = adapter_for(_host("lmstudio"), transport=_transport(
        {("POST", "/api/v1/models/load"): (500, oom)}))
    with pytest.raises(OutOfMemory, match="insufficient system resources"):
        asyncio.run(a.load("big@f16"))


def test_lmstudio_without_rest_load_loads_on_first_chat() -> None:
    a = adapter_for(_host("lmstudio"), transport=_transport({}))
    assert asyncio.run(a.load("m")) == 0
    assert not a.can_load


def test_llamacpp_loading_is_up_with_nothing_to_route_to() -> None:
    a = adapter_for(_host("llamacpp", models=("smollm2",)), transport=_transport(
        {("GET", "/health"): (503, {"error": {"message": "Loading model"}})}))
    r = asyncio.run(a.state())
    assert r.up and r.loaded == {}
    ready = adapter_for(_host("llamacpp", models=("smollm2",)), transport=_transport({
        ("GET", "/health"): (200, {"status": "ok"}),
        ("GET", "/props"): (200, {"total_slots": 2,
                                  "default_generation_settings": {"n_ctx": 2048}})}))
    r = asyncio.run(ready.state())
    assert r.slots == 2 and r.loaded == {"smollm2": 2048}


def test_ollama_maps_names_both_ways() -> None:
    host = _host("ollama", name_map=frozen_map({"the-eternal@f16": "the-eternal-f16"}))
    a = adapter_for(host, transport=_transport({
        ("GET", "/api/ps"): (200, {"models": [{"name": "the-eternal-f16",
                                               "context_length": 4096}]}),
        ("GET", "/api/tags"): (200, {"models": [{"name": "the-eternal-f16", "size": 16e9}]})}))
    r = asyncio.run(a.state())
    assert r.loaded == {"the-eternal@f16": 4096} and r.sizes_gb == {"the-eternal@f16": 16.0}
    assert a.to_host("the-eternal@f16") == "the-eternal-f16"


def test_a_refused_connection_is_host_down_at_once() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)
    a = adapter_for(_host("lmstudio"), transport=httpx.MockTransport(refuse))
    with pytest.raises(HostDown):
        asyncio.run(a.state())


def _chat_error(status: int, message: str) -> Callable[[Any], Any]:
    return lambda request: CHAT_HTTP.Response(status, json={"error": {"message": message}})


@pytest.mark.parametrize(("status", "message", "error"), [
    (400, "the request exceeds the available context size", ContextOverflow),
    (500, "insufficient system resources to load model", OutOfMemory),
    (500, "internal error", GenerationError),
])
def test_chat_errors_are_translated(status: int, message: str, error: type[Exception]) -> None:
    a = adapter_for(_host("openai"), chat_transport=_chat_transport(_chat_error(status, message)))
    with pytest.raises(error):
        asyncio.run(a.chat("m", [{"role": "user", "content": "hi"}], {"max_tokens": 5}))


def test_chat_connection_failure_is_host_down() -> None:
    def refuse(request: Any) -> Any:
        raise CHAT_HTTP.ConnectError("refused", request=request)
    a = adapter_for(_host("openai"), chat_transport=_chat_transport(refuse))
    with pytest.raises(HostDown):
        asyncio.run(a.chat("m", [{"role": "user", "content": "hi"}], {}))


def test_chat_returns_the_text_and_usage() -> None:
    def ok(request: Any) -> Any:
        body = json.loads(request.content)
        assert body["model"] == "m" and body["max_tokens"] == 5
        return CHAT_HTTP.Response(200, json={
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "hello"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
    a = adapter_for(_host("openai"), chat_transport=_chat_transport(ok))
    r = asyncio.run(a.chat("m", [{"role": "user", "content": "hi"}], {"max_tokens": 5}))
    assert r.text == "hello" and r.completion_tokens == 1


def test_garbage_in_a_host_state_marks_that_host_down_not_the_bot() -> None:
    from botcluster.core.hoststate import read_host

    bad = {"models": [{"key": "m", "loaded_instances": [{"id": "m",
                                                          "config": {"parallel": "auto"}}]}]}
    routes: Routes = {("GET", "/api/v1/models"): (200, bad)}
    a = adapter_for(_host("lmstudio"), transport=_transport(routes))
    r = asyncio.run(read_host(a))
    assert not r.up and "bad answer" in r.error


def test_a_timeout_is_its_own_error_and_not_a_refused_connection() -> None:
    from botcluster.errors import HostTimeout

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)
    a = adapter_for(_host("lmstudio"), transport=httpx.MockTransport(slow))
    with pytest.raises(HostTimeout):
        asyncio.run(a.state())

    def slow_chat(request: Any) -> Any:
        raise CHAT_HTTP.ReadTimeout("slow", request=request)
    c = adapter_for(_host("openai"), chat_transport=_chat_transport(slow_chat))
    with pytest.raises(HostTimeout):
        asyncio.run(c.chat("m", [{"role": "user", "content": "hi"}], {}))


TWO_INSTANCES = {"models": [
    {"key": "a@f16", "size_bytes": 16e9, "loaded_instances": [
        {"id": "a@f16", "config": {"context_length": 8192, "parallel": 2}}]},
    {"key": "b@f16", "size_bytes": 16e9, "loaded_instances": [
        {"id": "b@f16", "config": {"context_length": 8192, "parallel": 4}}]},
]}


def test_an_instances_parallel_never_becomes_the_hosts_capacity() -> None:
    """LM Studio 0.4's `config.parallel` is one instance's slots: a serialized host (slots = 1
    in config) stays serialized, and each model keeps its own slots under that cap."""
    from botcluster.core.cluster import HostView, apply_report

    a = adapter_for(_host("lmstudio", slots=1),
                    transport=_transport({("GET", "/api/v1/models"): (200, TWO_INSTANCES)}))
    report = asyncio.run(a.state())
    view = HostView(name="h", slots=1)
    apply_report(view, report, now=0.0)
    assert view.slots == 1, "one instance's parallel became the host's capacity"
    assert report.parallel == {"a@f16": 2, "b@f16": 4}
    assert view.parallel == {"a@f16": 2, "b@f16": 4}


def test_the_banner_shows_each_instances_slots_and_the_hosts_cap() -> None:
    from botcluster.core.hoststate import describe

    a = adapter_for(_host("lmstudio", slots=1),
                    transport=_transport({("GET", "/api/v1/models"): (200, TWO_INSTANCES)}))
    line = describe(asyncio.run(a.state()), slots=1)
    assert line == "h: 2 loaded (a@f16 x2, b@f16 x4), 1 slots"
