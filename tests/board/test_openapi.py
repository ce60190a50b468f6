"""Property-based run of the board against its own /openapi.json (schemathesis).

Every generated request must get a non-5xx answer that conforms to the documented status codes,
content types, headers and schemas. Both dialects, positive and negative data.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.board.conftest import RunningBoard
from tests.support.procs import LOOPBACK

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
TOKEN = "schema-run"
EXAMPLES = {GenerationMode.POSITIVE: 50, GenerationMode.NEGATIVE: 25}


def _run_all(board: RunningBoard) -> int:
    """Run every operation in both modes; the number of cases run."""
    schema = schemathesis.openapi.from_url(board.url + "/openapi.json")
    addresses = (f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}" for i in itertools.count())
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        auth = {}
        if operation.path == "/api/admin/add-to-cache":
            auth["Authorization"] = f"Bearer {TOKEN}"  # fault switches stay locked (401)
        for mode, examples in EXAMPLES.items():
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: schemathesis.Case) -> None:
                nonlocal ran
                # A fresh client address per case keeps the rate limit out of the way.
                case.call_and_validate(headers={**auth, "CF-Connecting-IP": next(addresses)},  # noqa: B023 - run before the loop moves on
                                       checks=CHECKS)
                ran += 1

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE  # nothing to break in a bare GET
    return ran


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["kv", "do"])
def test_schema_conformance(make_board: Callable[..., RunningBoard], dialect: str) -> None:
    board = make_board(dialect=dialect, admin_token=TOKEN, entities={"ei": "EmotionalGuide"},
                       trusted_proxies=(LOOPBACK,))
    for i in range(3):  # some records, so that ids and queue calls find something
        board.post("/api/comments", json={"id": f"seed-{i}", "text": "seed",
                                          "domain": "saywhatwant.app",
                                          "botParams": {"entity": "ei"}})
    ran = _run_all(board)
    assert ran >= (500 if dialect == "kv" else 350), ran
    print(f"schemathesis: {ran} cases against the {dialect} dialect")
