"""Client of the site's comments API in all its dialects (CONTRACT.md).

    async with CommentsClient("http://127.0.0.1:8787") as api:
        await api.detect()
        for message in await api.pending():
            ...
"""

from botcluster.comments.client import CommentsClient
from botcluster.comments.dialect import AUTO, DIALECTS, DO, KV, KV_LEGACY
from botcluster.comments.http import Backoff
from botcluster.comments.message import (
    FailResult,
    Message,
    Reply,
    message_id_time,
    new_message_id,
)

__all__ = [
    "AUTO",
    "DIALECTS",
    "DO",
    "KV",
    "KV_LEGACY",
    "Backoff",
    "CommentsClient",
    "FailResult",
    "Message",
    "Reply",
    "message_id_time",
    "new_message_id",
]
