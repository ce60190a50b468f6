"""The `botcluster` command: a thin click group that parses and delegates.

Each subsystem owns its command in its own module; this file only assembles them, importing
each lazily so that `botcluster --help` stays fast and a missing optional extra breaks only the
command that needs it.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from botcluster import __version__

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "start": "botcluster.core.commands:start",
    "check": "botcluster.core.commands:check",
    "status": "botcluster.core.commands:status",
    "board": "botcluster.board.cli:board",
    "sim": "botcluster.sim.cli:sim",
    "local-host": "botcluster.hosts.local_cli:local_host",
    "stress": "botcluster.stress.cli:stress",
    "bench": "botcluster.bench.cli:bench",
}

HELP = {
    "start": "Start the bot: board (unless --api-url), local hosts, workers and /metrics.",
    "check": "Validate the config and reach every host and the comments API.",
    "status": "Show hosts and queue of a running bot.",
    "board": "Run the embedded comments server (the site's KV or DO dialect).",
    "sim": "Run simulated LM Studio / Ollama / llama.cpp hosts from a cluster file.",
    "local-host": "Run the real local llama.cpp host (SmolLM2) for one model alias.",
    "stress": "Replay the users' burst test against a comments API and account for every reply.",
    "bench": "Compare scheduling strategies on simulated clusters.",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in COMMANDS if self._available(n))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("botcluster"):
                return None  # not built yet
            raise
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: Any) -> None:
        rows = [(n, HELP.get(n, "")) for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    @staticmethod
    def _available(name: str) -> bool:
        module_name = COMMANDS[name].split(":")[0]
        try:
            return importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:  # the parent package does not exist yet
            return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="botcluster")
def main() -> None:
    """botcluster answers chat-site messages with fine-tuned models on a cluster of LLM hosts.

    Start with `botcluster start` (embedded board and local LLM from servers.toml), or
    `botcluster start --api-url https://...` against a real site.
    """
