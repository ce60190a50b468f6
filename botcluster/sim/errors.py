"""Errors a simulated host answers with. Each carries the HTTP status and LM Studio's wording."""

from __future__ import annotations

from botcluster.errors import BotclusterError


class SimError(BotclusterError):
    """A request the simulated host refuses; `status` and `code` shape the HTTP error body."""

    status = 500
    code = "internal_error"
    outcome = "error"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class UnknownModel(SimError):
    status = 404
    code = "model_not_found"
    outcome = "unknown_model"


class ModelNotLoaded(SimError):
    """JIT is off and the model is not loaded."""

    status = 404
    code = "model_not_found"
    outcome = "not_loaded"


class InsufficientMemory(SimError):
    """LM Studio refuses a load that does not fit, naming the memory it would need."""

    status = 500
    code = "model_load_failed"
    outcome = "out_of_memory"

    def __init__(self, key: str, size_gb: float, free_gb: float) -> None:
        super().__init__(
            f'Failed to load model "{key}". Error: Model loading was stopped due to insufficient '
            f"system resources. This model requires approximately {size_gb:.2f} GB of memory, "
            f"and only {free_gb:.2f} GB is available. Continuing to load the model will likely "
            f"overload your system and may cause it to freeze.")


class ContextTooLong(SimError):
    status = 400
    code = "context_length_exceeded"
    outcome = "context_overflow"

    def __init__(self, prompt_tokens: int, context_length: int) -> None:
        super().__init__(
            f"Trying to keep the first {prompt_tokens} tokens when context the overflows. "
            f"However, the model is loaded with context length of only {context_length} tokens, "
            f"which is not enough. Try to load the model with a larger context length, or "
            f"provide a shorter input")


class Evicted(SimError):
    """The instance was unloaded while the request waited for it or generated on it."""

    status = 500
    code = "model_unloaded"
    outcome = "evicted"


class LoadAborted(SimError):
    """Two different models started loading at once and the host gave up on both (the
    wording is ours: LM Studio's for this case is not documented)."""

    status = 500
    code = "model_load_aborted"
    outcome = "load_aborted"

    def __init__(self, key: str) -> None:
        super().__init__(f'Failed to load model "{key}": the load was aborted because another '
                         f"model started loading at the same time")


class RequestLost(SimError):
    """The first request after a load vanished (the connection closes without a reply)."""

    outcome = "lost"


class BadRequest(SimError):
    status = 400
    code = "invalid_request"
    outcome = "bad_request"
