"""Each peer's routing policy, in-process on fake views: what its documentation says it does."""

from __future__ import annotations

from botcluster.bench.llamaswap import Refuse, Serve, Swap, SwapHost, evict_for, home_hosts
from botcluster.bench.policies import (
    AGEING_S,
    WARM_BONUS,
    Pending,
    site_pick,
    warm_first_pick,
)
from botcluster.bench.view import HostView
from botcluster.sim.spec import ClusterSpec, HostSpec, ModelSpec


def view(name: str, resident: set[str], memory_gb: float = 40.0, slots: int = 2,
         parallel: int = 1, models: tuple[str, ...] = ("a", "b", "c", "d")) -> HostView:
    return HostView(name=name, memory_gb=memory_gb, slots_per_model=parallel,
                    slots_per_host=slots, sizes={m: 10.0 for m in models}, resident=resident)


# --- the site's router ------------------------------------------------------------------------

def test_site_router_prefers_a_host_with_the_model_loaded_even_if_it_is_busy() -> None:
    h1, h2 = view("h1", {"b", "c"}), view("h2", {"a"})
    h2.busy["a"] = 5
    assert site_pick([h1, h2], "a") is h2


def test_site_router_loads_on_the_host_with_the_most_free_memory() -> None:
    h1, h2, h3 = view("h1", {"b", "c"}), view("h2", {"b"}), view("h3", {"c"})
    assert site_pick([h1, h2, h3], "a") is h2  # 30 GB free, tie with h3: cluster order


# --- warm first with ageing -------------------------------------------------------------------

def test_warm_first_serves_a_hit_before_an_older_message_that_needs_a_load() -> None:
    hosts = {"h1": view("h1", {"a"}, slots=1)}
    old_cold = Pending(0, "b", 50, t=0.0)
    young_warm = Pending(1, "a", 50, t=100.0)
    job, host = warm_first_pick(hosts, [old_cold, young_warm], now=100.0) or (None, None)
    assert job == young_warm and host is hosts["h1"]


def test_warm_first_ages_a_cold_message_past_the_hits_so_it_does_not_starve() -> None:
    hosts = {"h1": view("h1", {"a"}, slots=1)}
    waited = WARM_BONUS * AGEING_S + 10.0
    old_cold = Pending(0, "b", 50, t=0.0)
    fresh_warm = Pending(1, "a", 50, t=waited)
    picked = warm_first_pick(hosts, [old_cold, fresh_warm], now=waited)
    assert picked is not None and picked[0] == old_cold


def test_warm_first_counts_a_saturated_instance_as_cold_and_skips_full_hosts() -> None:
    full = view("h1", {"a"}, slots=1)
    full.busy["a"] = 1
    other = view("h2", {"a"}, slots=2, parallel=1)
    other.busy["a"] = 1  # a free host slot, but a's only instance slot is taken
    picked = warm_first_pick({"h1": full, "h2": other}, [Pending(0, "a", 50, 0.0)], now=0.0)
    assert picked is not None and picked[1] is other
    assert warm_first_pick({"h1": full}, [Pending(0, "a", 50, 0.0)], now=0.0) is None


def test_warm_first_puts_an_urgent_message_first() -> None:
    hosts = {"h1": view("h1", {"a", "b"}, slots=1)}
    picked = warm_first_pick(hosts, [Pending(0, "a", 50, 0.0), Pending(1, "b", 80, 5.0)], 5.0)
    assert picked is not None and picked[0].index == 1


# --- llama-swap ---------------------------------------------------------------------------------

def swap_host(running: list[str], memory_gb: float = 20.0, limit: int = 10) -> SwapHost:
    return SwapHost(memory_gb=memory_gb, sizes={m: 10.0 for m in "abcd"},
                    costs={"a": 1, "b": 5, "c": 1, "d": 1}, running=running, limit=limit)


def test_matrix_evicts_the_cheapest_running_models() -> None:
    assert evict_for("c", ["a", "b"], {m: 10.0 for m in "abc"}, 20.0, {"a": 1, "b": 5}) == ("a",)
    assert evict_for("c", ["b", "a"], {m: 10.0 for m in "abc"}, 20.0, {"a": 5, "b": 5}) == ("b",)
    assert evict_for("a", ["a", "b"], {m: 10.0 for m in "ab"}, 20.0, {}) == ()
    assert evict_for("c", ["a"], {"a": 10.0, "c": 30.0}, 20.0, {}) == ("a",)  # c never fits


def test_llama_swap_serves_the_loaded_model_at_once_ahead_of_queued_swaps() -> None:
    s = swap_host(["a", "b"])
    assert s.on_request(0, "a") == [Serve(0, "a")]
    assert s.on_request(1, "b") == [Serve(1, "b")]
    assert s.on_request(2, "c") == []  # would evict a busy model: queued
    assert s.on_request(3, "a") == [Serve(3, "a")]  # the loaded model first
    assert s.queued == [(2, "c")]


def test_llama_swap_never_evicts_a_busy_model_and_swaps_in_arrival_order() -> None:
    s = swap_host(["a", "b"])
    s.on_request(0, "a")
    s.on_request(1, "b")
    assert s.on_request(2, "c") == [] and s.on_request(3, "d") == []
    assert s.on_serve_done("b") == []  # b is idle but c's cheapest victim is a (cost 1 < 5)
    assert s.on_serve_done("a") == [Swap("c", ("a",))]  # c first: it came first
    # d's cheapest victim is a now-idle b? b costs 5; c is the target of a swap in flight, and
    # evicting it would collide: d waits for c
    assert s.queued == [(3, "d")]
    assert s.on_swap_done("c", ok=True)[0] == Serve(2, "c")


def test_llama_swap_joins_a_swap_in_flight_for_the_same_model() -> None:
    s = swap_host(["a"], memory_gb=10.0)
    assert s.on_request(0, "b") == [Swap("b", ("a",))]
    assert s.on_request(1, "b") == []
    assert s.on_swap_done("b", ok=True) == [Serve(0, "b"), Serve(1, "b")]


def test_llama_swap_refuses_beyond_the_per_model_concurrency_limit() -> None:
    s = swap_host(["a"], limit=2)
    assert s.on_request(0, "a") == [Serve(0, "a")]
    assert s.on_request(1, "a") == [Serve(1, "a")]
    assert s.on_request(2, "a") == [Refuse(2, "a")]
    s.on_serve_done("a")
    assert s.on_request(3, "a") == [Serve(3, "a")]


def test_llama_swap_forwards_each_model_to_one_host() -> None:
    models = tuple(ModelSpec(k, 4.0, loaded=(k == "d")) for k in "abcd")
    cluster = ClusterSpec(hosts=(HostSpec("h1", models=models),
                                 HostSpec("h2", models=tuple(m for m in models if m.key != "d"))))
    homes = home_hosts(cluster)
    assert homes["d"] == "h1"  # where it is loaded
    assert sorted(homes.values()).count("h2") == 2  # the rest balanced
