"""Chaos 2: 300 messages over 30 s while everything that can break does.

The board loses cache writes (--cache-race) and answers 5% of requests with a 5xx; the three
simulated hosts answer 5% of chat requests with a 500; a random worker is SIGKILLed every 3 s;
one host goes down for 10 s; the supervisor itself is SIGKILLed once (with every child of its
process group) and started again. Every one of the 300 messages must still be answered exactly
once, visibly, and the board's records must agree.
"""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

from tests.chaos import harness as h

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

MESSAGES = 300
SPREAD_S = 30.0
MODELS = [f"persona-{i}@q4" for i in range(5)]
HOSTS = (
    h.SimHost("studio-1", ((MODELS[0], True), (MODELS[1], True), (MODELS[2], False)),
              slots=2, memory_gb=12.0, error_rate=0.05),
    h.SimHost("studio-2", ((MODELS[2], True), (MODELS[3], True), (MODELS[4], False)),
              slots=2, memory_gb=12.0, error_rate=0.05),
    h.SimHost("studio-3", ((MODELS[4], True), (MODELS[0], True), (MODELS[1], False),
                           (MODELS[3], False)), slots=2, memory_gb=12.0, error_rate=0.05),
)
ENTITIES = tuple(h.EntitySpec(f"persona-{i}", f"Persona{i}", MODELS[i % len(MODELS)])
                 for i in range(10))
WORKERS = 3
KILL_EVERY_S = 3.0
HOST_DOWN_AT_S, HOST_DOWN_FOR_S = 8.0, 10.0
SUPERVISOR_KILL_AT_S = 20.0
CHAOS_UNTIL_S = 45.0


class Chaos:
    """The schedule of faults, run from the test's thread while the stress run goes on."""

    def __init__(self, bot: h.Bot, sim: h.Sim, seed: int = 3) -> None:
        self.bot, self.sim = bot, sim
        self.rng = random.Random(seed)
        self.worker_kills = 0
        self.supervisor_kills = 0
        self.restart_s = 0.0

    def run(self, stress: subprocess.Popen[bytes]) -> None:
        started = time.monotonic()
        next_kill, host_down, supervisor_done = KILL_EVERY_S, False, False
        # The seconds the supervisor's restart takes (longer on a busy machine) have no
        # worker to kill: they do not count against the chaos window.
        while stress.poll() is None and \
                time.monotonic() - started < CHAOS_UNTIL_S + self.restart_s:
            t = time.monotonic() - started
            if not host_down and t >= HOST_DOWN_AT_S:
                self.sim.down_for("studio-2", HOST_DOWN_FOR_S)
                host_down = True
            if not supervisor_done and t >= SUPERVISOR_KILL_AT_S:
                self._restart_supervisor()
                supervisor_done = True
                next_kill = time.monotonic() - started + KILL_EVERY_S
            if t >= next_kill:
                self._kill_a_worker()
                next_kill = t + KILL_EVERY_S
            time.sleep(0.1)

    def _kill_a_worker(self) -> None:
        pids = self.bot.worker_pids()
        if pids:
            pid = self.rng.choice(pids)
            h.os.kill(pid, h.signal.SIGKILL)
            self.worker_kills += 1

    def _restart_supervisor(self) -> None:
        began = time.monotonic()
        self.bot.kill_hard()
        self.supervisor_kills += 1
        self.bot.start(workers=WORKERS)
        self.restart_s = time.monotonic() - began


def test_300_messages_through_kills_faults_and_a_supervisor_restart(tmp_path: Path) -> None:
    with h.board(tmp_path, "--cache-race", "--error-rate", "0.05") as board, \
            h.sim(tmp_path, HOSTS) as sim:
        bot = h.Bot.configured(tmp_path, board.url, sim.urls, HOSTS, ENTITIES,
                               workers=WORKERS, jobs_per_worker=3)
        out = tmp_path / "stress.json"
        chaos = Chaos(bot, sim)
        try:
            bot.start(workers=WORKERS)
            stress = h.popen(h.stress_cmd(board.url, out, messages=MESSAGES,
                                          entities=[e.id for e in ENTITIES], deadline=170,
                                          spread=SPREAD_S, sim_ports=sim.ports_file),
                             tmp_path / "stress.log")
            chaos.run(stress)
            code = stress.wait(200)
            bot.scrape()
            report = h.read_report(out)
            stored = board.records()
            host_stats = sim.stats()
        finally:
            bot.stop()
            print(h.tail(tmp_path / "stress.log", 3000))
            print(h.tail(bot.log, 4000))
    reclaimed = sum(h.metric(text, "botcluster_claims_reclaimed_total")
                    for text in bot.metrics_seen)
    print(f"MEASURED replies {report['replied_once']}/{MESSAGES}, duplicates "
          f"{len(report['duplicated'])}, tab heals {report['heals']}, server heals "
          f"{report['exercised']['server_heals']}, p95 {report['latency']['p95_s']}s, "
          f"max {report['latency']['max_s']}s, reclaimed leases {reclaimed:g}, worker kills "
          f"{chaos.worker_kills}, supervisor restart {chaos.restart_s:.1f}s, "
          f"host downs {host_stats['studio-2']['downs']}, exercised {report['exercised']}")
    assert chaos.worker_kills >= 8 and chaos.supervisor_kills == 1
    assert host_stats["studio-2"]["downs"] == 1
    assert report["replied_once"] == MESSAGES, \
        (report["missing"][:20], report["duplicated"], report["never_visible"][:20])
    assert code == 0
    humans = {r["id"]: r for r in stored if r.get("message-type") == "human"}
    assert len(humans) == MESSAGES
    per_message: dict[str, int] = {}
    for r in stored:
        if r.get("message-type") == "AI":
            per_message[r["replyTo"]] = per_message.get(r["replyTo"], 0) + 1
    assert all(per_message.get(mid) == 1 for mid in humans), \
        {m: n for m, n in per_message.items() if n != 1}
    stuck = [mid for mid, r in humans.items() if r["botParams"]["status"] != "complete"]
    assert not stuck, stuck
    assert reclaimed >= 1  # killed workers held leases that went back to the queue
