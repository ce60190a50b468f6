"""The embedded comments server: the site's KV (or DO) dialect, durable, with switchable faults.

`create_app(BoardSettings(...))` builds the ASGI app; `botcluster board` runs it (docs/BOARD.md).
"""

from botcluster.board.app import create_app
from botcluster.board.settings import BoardSettings, FaultSettings

__all__ = ["BoardSettings", "FaultSettings", "create_app"]
