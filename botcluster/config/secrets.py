"""Secrets are named in the config by environment variable and read only when needed.

`Config` holds the *name* (`api_key_env`, `admin_token_env`), never the value, so a config can be
logged, pickled to worker processes and shown on a dashboard without leaking anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def resolve_secret(env_name: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The value of the environment variable `env_name`, or None if unnamed, unset or empty.

    An empty value counts as unset: `LMSTUDIO_TOKEN=` in a shell profile should mean "no key",
    not "send an empty bearer token".
    """
    if not env_name:
        return None
    value = environ.get(env_name)
    return value or None
