"""A config and the real recovery path of a start, for the journal tests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from botcluster.config import load
from botcluster.config.model import Config, HealConfig
from botcluster.core.dispatcher import Dispatcher, DispatcherSettings
from botcluster.core.heal import HealTracker
from botcluster.core.journal import Journal, JournalState, compact
from botcluster.core.poller import Poller
from tests.core.helpers import host

NOM = 7

CONFIG = f"""
[bot]
api_url = "http://127.0.0.1:9"
journal_path = "journal.jsonl"

[[hosts]]
name = "h1"
url = "http://127.0.0.1:9"
kind = "lmstudio"
slots = 1

[[entities]]
id = "e1"
username = "E1"
baseModel = "m1"
nom = {NOM}
"""


def config(directory: Path) -> Config:
    path = directory / "servers.toml"
    path.write_text(CONFIG)
    return load(path)


def message(mid: str, **fields: object) -> dict[str, object]:
    """A queued message's fields, as the poller journals them (dataclasses.asdict)."""
    return {"id": mid, "text": "hello", "timestamp": 1_700_000_000_000, "username": "ann",
            "color": "255000000", "message_type": "human", "domain": "", "reply_to": None,
            "context": ["ann: hi"], "entity": "e1", "priority": 50, "model": None,
            "ais": None, "status": None, "attempts": 0, "claimed_by": None,
            "processed": None, **fields}


class Recovered:
    """What a start rebuilds from the journal: the state, the dispatcher's jobs, the heals."""

    def __init__(self, cfg: Config) -> None:
        self.config = cfg
        self.dispatcher = Dispatcher(DispatcherSettings(), [host("h1")],
                                     dict(cfg.entities))
        self.heal = HealTracker(None, Journal(cfg.bot.journal_path),  # type: ignore[arg-type]
                                HealConfig())
        self.state = JournalState()
        self.heal_skipped = 0

    def run(self) -> Recovered:
        """The steps of Runtime.start that read the journal, in its order."""
        self.state = compact(self.config.bot.journal_path)
        self.dispatcher.forget(list(self.state.done))
        poller = Poller(self.config, None, self.dispatcher, self.state)  # type: ignore[arg-type]
        asyncio.run(poller.recover())
        self.heal_skipped = self.heal.restore(list(self.state.posted.values()))
        return self

    @property
    def ranks(self) -> dict[str, float]:
        return {mid: job.rank for mid, job in self.dispatcher.store.jobs.items()}
