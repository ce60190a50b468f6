"""Who may reach `/api/admin/*`: the token holder, and never a web page of another site.

The site's admin endpoints are open, with CORS `*`. On a board that runs on a user's machine
that would let any web page the user visits flip the fault switches (a `fetch` with a
`text/plain` body needs no preflight). So, on the board only:

- admin responses carry no CORS headers, so a browser shows them to no other site;
- a request whose `Origin` is not the board's own is refused (403);
- a POST must say `Content-Type: application/json`, which a cross-site page cannot send
  without a preflight, and the preflight gets no CORS answer (415 otherwise);
- without a token, the `Host` must be a loopback name, so a page on a rebound DNS name cannot
  pass as the board's own origin (403); a board listening beyond loopback needs a token.

The bot's own calls (add-to-cache: JSON body, no `Origin`, a loopback or configured host)
pass unchanged.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from botcluster.board.responses import error
from botcluster.board.settings import is_loopback

ADMIN_PREFIX = "/api/admin/"


def host_name(host_header: str) -> str:
    """`127.0.0.1:8787` -> `127.0.0.1`, `[::1]:80` -> `::1`."""
    return urlsplit("//" + host_header.strip()).hostname or ""


def same_origin(origin: str, host_header: str) -> bool:
    """Whether a browser's `Origin` names the host the request was sent to."""
    parts = urlsplit(origin.strip())
    return parts.scheme in ("http", "https") and \
        parts.netloc.lower() == host_header.strip().lower()


def authorized(header: str | None, token: str | None) -> bool:
    """True when no token is configured, or the header is `Bearer <token>` (constant time)."""
    if not token:
        return True
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode(), token.encode())


def admin_refusal(scope: Scope, token: str | None) -> Response | None:
    """The answer that refuses an admin request, or None to let it through."""
    headers = Headers(scope=scope)
    if not authorized(headers.get("authorization"), token):
        return error(401, "Unauthorized", hint="Authorization: Bearer <token>")
    host = headers.get("host", "")
    origin = headers.get("origin")
    if origin is not None and not same_origin(origin, host):
        return error(403, "Cross-site request to an admin endpoint refused")
    if not token and not is_loopback(host_name(host)):
        return error(403, "Without an admin token, admin endpoints answer only requests "
                          "addressed to a loopback name (localhost, 127.0.0.1, ::1)")
    if scope["method"] == "POST":
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return error(415, "Admin calls must send Content-Type: application/json")
    return None
