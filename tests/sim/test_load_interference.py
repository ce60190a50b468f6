"""What a load does to the host's other work: nothing (default), a slowdown, or a full stop.

In-process on the engine, at a compressed time scale. Durations are bounded from below only: a
stall on a busy machine can only lengthen them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from botcluster.errors import ConfigError
from botcluster.sim.clock import ScaledClock
from botcluster.sim.engine import SimHost
from botcluster.sim.pace import Pace
from botcluster.sim.spec import cluster_from_dict
from tests.sim.conftest import OVERLAP_SCALE, host, model

# alpha is loaded; beta (4 GB at 1 GB/s) loads in 4 s. A 100-token reply at 100 tokens/s after a
# 0.5 s time to first token takes 1.5 s of generation at full speed.
TOKENS = 100
LOAD_AT = 0.2
LOAD_S = 4.0
ALONE_S = 1.5


def _host(**kw: Any) -> SimHost:
    table = host(slots_per_host=2, slots_per_model=2,
                 models=[model("alpha", loaded=True), model("beta")], **kw)
    spec = cluster_from_dict({"hosts": [table]}).hosts[0]
    return SimHost(spec, ScaledClock(OVERLAP_SCALE))


async def _generate_during_load(sim: SimHost) -> tuple[float, float]:
    """Generate on alpha while beta loads from LOAD_AT; (generation, load) end times."""
    await sim.preload()
    t0 = sim.clock.now()
    inst = sim.instances["alpha"]

    async def generation() -> float:
        async for _ in sim.generate(inst, TOKENS):
            pass
        return sim.clock.now() - t0

    async def load() -> float:
        await sim.clock.sleep(LOAD_AT)
        await sim.load("beta")
        return sim.clock.now() - t0

    gen_end, load_end = await asyncio.gather(generation(), load())
    return gen_end, load_end


def test_a_blocking_load_stops_generation_until_it_ends() -> None:
    sim = _host(load_blocks_generation=True)
    gen_end, load_end = asyncio.run(_generate_during_load(sim))
    assert load_end >= LOAD_AT + LOAD_S
    # 0.2 s of generation before the load, none during its 4 s, the other 1.3 s after it
    assert gen_end >= LOAD_AT + LOAD_S + (ALONE_S - LOAD_AT) - 0.05
    assert gen_end >= load_end


def test_a_slowdown_stretches_generation_while_the_load_runs() -> None:
    sim = _host(load_slowdown=0.5)
    gen_end, _ = asyncio.run(_generate_during_load(sim))
    # 0.2 s at full speed, then the remaining 1.3 s of work at half speed: 2.6 s
    assert gen_end >= LOAD_AT + (ALONE_S - LOAD_AT) / 0.5 - 0.05


def test_a_generation_that_starts_during_a_blocking_load_waits_for_it() -> None:
    sim = _host(load_blocks_generation=True)

    async def main() -> float:
        await sim.preload()
        t0 = sim.clock.now()
        loading = asyncio.create_task(sim.load("beta"))
        await sim.clock.sleep(0.5)
        async for _ in sim.generate(sim.instances["alpha"], TOKENS):
            pass
        await loading
        return sim.clock.now() - t0

    assert asyncio.run(main()) >= LOAD_S + ALONE_S - 0.05


def test_interference_is_off_by_default() -> None:
    spec = cluster_from_dict({"hosts": [host()]}).hosts[0]
    assert spec.load_blocks_generation is False
    assert spec.load_slowdown == 0.0


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_load_slowdown_outside_0_to_1_is_a_config_error(value: float) -> None:
    with pytest.raises(ConfigError, match="load_slowdown"):
        cluster_from_dict({"hosts": [host(load_slowdown=value)]})


@pytest.mark.parametrize(("blocks", "slowdown", "during"),
                         [(False, 0.0, 1.0), (False, 0.25, 0.75), (True, 0.0, 0.0)])
def test_speed_during_a_load_and_after_it(blocks: bool, slowdown: float, during: float) -> None:
    async def main() -> tuple[float, float, float]:
        pace = Pace(ScaledClock(OVERLAP_SCALE), blocks=blocks, slowdown=slowdown)
        before = pace.speed()
        pace.load_started()
        pace.load_started()
        pace.load_ended()
        mid = pace.speed()  # one load still under way
        pace.load_ended()
        return before, mid, pace.speed()

    assert asyncio.run(main()) == (1.0, during, 1.0)
