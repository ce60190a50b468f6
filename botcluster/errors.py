"""The one exception tree of botcluster.

Every error that crosses a module boundary is a `BotclusterError`. Foreign errors (httpx, openai,
sqlite3, OSError, ...) are translated into one of these at the boundary where they happen, so
callers never need to know which library a component uses.
"""

from __future__ import annotations


class BotclusterError(Exception):
    """Base of every error botcluster raises on purpose."""


class ConfigError(BotclusterError):
    """A configuration file is missing, unreadable or invalid.

    The message always names the file, the key path and the problem in one line.
    """

    def __init__(self, path: str, key: str, problem: str) -> None:
        self.path = path
        self.key = key
        self.problem = problem
        where = f"{path}: {key}" if key else path
        super().__init__(f"{where}: {problem}")


# --- comments API ---------------------------------------------------------------------------


class CommentsError(BotclusterError):
    """A call to the comments API failed."""


class CommentsUnavailable(CommentsError):
    """Connection error, timeout or 5xx after retries: the server may work again later."""


class CommentsRejected(CommentsError):
    """The server answered 4xx: retrying the same request will not help."""

    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


class ClaimLost(CommentsError):
    """Another worker or bot owns the message (409 or 404 on claim)."""


class MalformedMessage(CommentsError):
    """The server sent a message that does not validate; it is counted and skipped."""


# --- LLM hosts ------------------------------------------------------------------------------


class HostError(BotclusterError):
    """A call to an LLM host failed."""

    def __init__(self, host: str, detail: str) -> None:
        self.host = host
        self.detail = detail
        super().__init__(f"{host}: {detail}")


class HostDown(HostError):
    """The host did not answer (connection refused, reset or timed out): mark it down."""


class HostTimeout(HostError):
    """The host accepted the request but did not answer in time: mark it down, and count
    the attempt (a prompt that always runs past the limit must end, not retry forever)."""


class ModelLoadError(HostError):
    """A model could not be loaded on a host."""


class OutOfMemory(ModelLoadError):
    """The host refused a load for lack of memory: evict something and retry once."""


class ContextOverflow(HostError):
    """The prompt did not fit the loaded context length."""


class GenerationError(HostError):
    """The host answered, but not with a usable completion (5xx, garbage, empty)."""


# --- the bot itself -------------------------------------------------------------------------


class LockHeld(BotclusterError):
    """Another botcluster instance already serves this site with this journal."""


class UnsafePath(BotclusterError):
    """A runtime directory or file is not ours alone (a symlink, someone else's, or open to
    others): using it would let another local user redirect or empty what the bot writes."""


class JournalError(BotclusterError):
    """The journal could not be read or written."""


class LocalHostError(BotclusterError):
    """The embedded llama.cpp host could not start (missing packages, bad model file, ...)."""


class PortInUse(BotclusterError):
    """A port the bot must listen on is taken. The message is one line naming the config key:
    `[metrics] port 9464 is in use (127.0.0.1:9464): [Errno 98] Address already in use`."""
