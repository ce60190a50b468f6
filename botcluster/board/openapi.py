"""The board's OpenAPI 3.1 description, written by hand from the contract (served at /openapi.json).

Schemas describe what the board really answers, errors and injected faults included, so that a
property-based run (schemathesis) can hold every response to them.
"""

from __future__ import annotations

from typing import Any

from botcluster.board.settings import BoardDialect

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema, description: str = "") -> Schema:
    return {"description": description or "JSON",
            "content": {"application/json": {"schema": schema}}}


ERROR = _json(_ref("Error"), "error")
QUEUE_ERROR = _json(_ref("QueueError"), "queue error")
NOT_FOUND = {"description": "not found", "content": {
    "application/json": {"schema": {"type": "object"}},
    "text/plain": {"schema": {"type": "string"}}}}
# 413: a body over --max-body-bytes; 500/503: injected faults (--error-rate), storage errors.
FAULTS = {"413": ERROR, "500": ERROR, "503": ERROR}
# 401 no token; 403 a foreign Origin or, without a token, a Host that is not loopback;
# 415 a POST that is not application/json; 413 a body over the limit.
ADMIN = {"401": ERROR, "403": ERROR, "413": ERROR, "415": ERROR}

SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["error"],
              "properties": {"error": {"type": "string"}}},
    "QueueError": {"type": "object", "required": ["success", "error"],
                   "properties": {"success": {"type": "boolean", "enum": [False]},
                                  "error": {"type": "string"}}},
    "BotParams": {"type": "object", "properties": {
        "entity": {}, "priority": {}, "processed": {},
        "status": {}, "claimedBy": {}, "claimedAt": {}, "attempts": {}}},
    "Message": {"type": "object", "required": ["id", "text", "timestamp"], "properties": {
        "id": {"type": "string"}, "text": {"type": "string", "maxLength": 1000},
        "timestamp": {"type": "number"}, "username": {"type": "string", "maxLength": 16},
        "color": {}, "domain": {}, "language": {}, "message-type": {}, "misc": {},
        "context": {"type": "array"}, "botParams": _ref("BotParams"), "replyTo": {}}},
    "NewMessage": {"type": "object", "required": ["text"], "properties": {
        "id": {"type": "string"}, "text": {"type": "string", "maxLength": 4000},
        "timestamp": {"type": "integer", "minimum": 1}, "username": {"type": "string"},
        "color": {"type": "string"}, "domain": {"type": "string"},
        "language": {"type": "string"}, "message-type": {"type": "string",
                                                         "enum": ["human", "AI"]},
        "misc": {"type": "string"}, "context": {"type": "array", "items": {"type": "string"}},
        "botParams": {"type": "object", "properties": {
            "entity": {"type": "string"}, "priority": {"type": "integer"}}},
        "replyTo": {"type": "string"}}},
    "Faults": {"type": "object", "additionalProperties": False, "properties": {
        "cache_race": {"type": "boolean"}, "claim_race": {"type": "boolean"},
        "race_pause_ms": {"type": "number", "minimum": 0, "maximum": 60000},
        "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "latency_ms": {"type": "number", "minimum": 0, "maximum": 60000},
        "stale_reads_s": {"type": "number", "minimum": 0, "maximum": 60000}}},
}


def _query(name: str, schema: Schema, description: str = "") -> Schema:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _body(schema: Schema) -> Schema:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _ids(*names: str) -> Schema:
    return {"type": "object", "required": list(names),
            "properties": {n: {"type": "string", "minLength": 1} for n in names}}


LIMIT = _query("limit", {"type": "integer", "minimum": 0}, "at most this many (max 1000)")
KIND = _query("type", {"type": "string", "enum": ["human", "AI"]})
SUCCESS = _json({"type": "object", "required": ["success"],
                 "properties": {"success": {"type": "boolean"}}})


def _kv_paths() -> Schema:
    return {**_kv_comment_paths(), **_kv_queue_paths()}


def _kv_comment_paths() -> Schema:
    page = {"type": "object", "required": ["comments", "hasMore"], "properties": {
        "comments": {"type": "array", "items": _ref("Message")},
        "total": {"type": "integer"}, "hasMore": {"type": "boolean"}}}
    return {
        "/api/comments": {
            "get": {"summary": "Cursor mode (after present) or page mode", "parameters": [
                _query("after", {"type": "string"}, "ms cursor; present (even 0) = cursor mode"),
                LIMIT, KIND, _query("offset", {"type": "integer", "minimum": 0}),
                _query("search", {"type": "string"})],
                "responses": {"200": _json({"oneOf": [
                    {"type": "array", "items": _ref("Message")}, page]}),
                    "400": ERROR, **FAULTS}},
            "post": {"summary": "Post a message (no dedup)",
                     "requestBody": _body(_ref("NewMessage")),
                     "responses": {"200": _json(_ref("Message")), "400": ERROR, "429": {
                         "description": "rate limited", "headers": {
                             "Retry-After": {"required": True, "schema": {"type": "string"}}},
                         "content": {"application/json": {"schema": _ref("Error")}}}, **FAULTS}}},
        "/api/comments/{id}": {"patch": {
            "summary": "Set botParams.processed",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"}}],
            "requestBody": _body({"type": "object", "additionalProperties": False,
                                  "required": ["botParams"], "properties": {"botParams": {
                                      "type": "object", "additionalProperties": False,
                                      "required": ["processed"],
                                      "properties": {"processed": {"type": "boolean"}}}}}),
            "responses": {"200": _json(_ref("Message")), "400": ERROR, "404": NOT_FOUND,
                          **FAULTS}}},
        "/api/heartbeat": {"get": {"responses": {"200": {
            "description": "ms of the last POST, 0 if none", "content": {
                "text/plain": {"schema": {"type": "string", "pattern": "^[0-9]+$"}}}},
            **FAULTS}}},
    }


def _kv_queue_paths() -> Schema:
    return {
        "/api/queue/pending": {"get": {"parameters": [LIMIT], "responses": {
            "200": _json({"type": "object", "required": ["pending", "kvStats"], "properties": {
                "pending": {"type": "array", "items": _ref("Message")},
                "kvStats": {"type": "object"}}}), "400": ERROR, **FAULTS}}},
        "/api/queue/claim": {"post": {"requestBody": _body(_ids("messageId", "workerId")),
                                      "responses": _queue_responses(_claimed())}},
        "/api/queue/complete": {"post": {"requestBody": _body(_ids("messageId")),
                                         "responses": _queue_responses(SUCCESS)}},
        "/api/queue/fail": {"post": {"requestBody": _body(_ids("messageId")),
                                     "responses": _queue_responses(_json({
                                         "type": "object",
                                         "required": ["success", "status", "attempts"],
                                         "properties": {"success": {"type": "boolean"},
                                                        "status": {"type": "string"},
                                                        "attempts": {"type": "integer"}}}))}},
        "/api/admin/add-to-cache": {"post": {
            "requestBody": _body(_ids("messageId")),
            "responses": {**_queue_responses(SUCCESS), **ADMIN}}},
    }


def _claimed() -> Schema:
    return _json({"type": "object", "required": ["success", "message"], "properties": {
        "success": {"type": "boolean"}, "message": _ref("Message")}})


def _queue_responses(ok: Schema) -> Schema:
    return {"200": ok, "400": _json({"oneOf": [_ref("Error"), _ref("QueueError")]}),
            "404": QUEUE_ERROR, "409": QUEUE_ERROR, **FAULTS}


def _do_paths() -> Schema:
    listing = {"type": "object", "required": ["messages", "version"], "properties": {
        "messages": {"type": "array", "items": _ref("Message")},
        "version": {"type": "string"}, "count": {"type": "integer"}}}
    posted = {"type": "object", "required": ["id", "timestamp", "status"], "properties": {
        "id": {"type": "string"}, "timestamp": {"type": "number"},
        "status": {"type": "string", "enum": ["success", "duplicate"]}}}
    return {
        "/api/comments": {
            "get": {"parameters": [_query("after", {"type": "string"}),
                                   _query("since", {"type": "string"}), LIMIT, KIND],
                    "responses": {"200": _json(listing), "400": ERROR, **FAULTS}},
            "post": {"summary": "Idempotent post", "requestBody": _body(_ref("NewMessage")),
                     "responses": {"200": _json(posted), "400": ERROR, "429": {
                         "description": "rate limited", "headers": {
                             "Retry-After": {"required": True, "schema": {"type": "string"}}},
                         "content": {"application/json": {"schema": _ref("Error")}}}, **FAULTS}}},
        "/api/queue/pending": {"get": {"parameters": [LIMIT], "responses": {
            "200": _json({"type": "object", "required": ["pending"], "properties": {
                "pending": {"type": "array", "items": _ref("Message")},
                "total": {"type": "integer"}}}), "400": ERROR, **FAULTS}}},
        "/api/queue/claim": {"post": {"requestBody": _body(_ids("messageId", "workerId")),
                                      "responses": _queue_responses(_claimed())}},
        "/api/queue/claim-next": {"post": {"requestBody": _body(_ids("workerId")),
                                           "responses": _queue_responses(_json({
                                               "type": "object", "required": ["success", "message"],
                                               "properties": {"success": {"type": "boolean"},
                                                              "message": {"oneOf": [
                                                                  _ref("Message"),
                                                                  {"type": "null"}]}}}))}},
        "/api/queue/complete": {"post": {"requestBody": _body(_ids("messageId")),
                                         "responses": _queue_responses(SUCCESS)}},
    }


def _board_paths() -> Schema:
    return {
        "/api/stats": {"get": {"responses": {"200": _json({
            "type": "object", "required": ["cacheSize"], "properties": {
                "cacheSize": {"type": "integer"}, "board": {"type": "object"}}}), **FAULTS}}},
        "/api/admin/faults": {
            "get": {"summary": "Board only: the live fault switches",
                    "responses": {"200": _json(_ref("Faults")), **ADMIN}},
            "post": {"summary": "Board only: change fault switches (partial)",
                     "requestBody": _body(_ref("Faults")),
                     "responses": {"200": _json(_ref("Faults")), "400": ERROR, **ADMIN}}},
        "/api/board/entities": {"get": {"summary": "Board only: entities the page offers",
                                        "responses": {"200": _json({"type": "array", "items": {
                                            "type": "object", "required": ["id", "username"],
                                            "properties": {"id": {"type": "string"},
                                                           "username": {"type": "string"}}}})}}},
    }


def openapi_document(dialect: BoardDialect) -> Schema:
    """The description of a board running `dialect`."""
    paths = _kv_paths() if dialect == "kv" else _do_paths()
    return {
        "openapi": "3.1.0",
        "info": {"title": f"botcluster board ({dialect} dialect)", "version": "1"},
        "paths": {**paths, **_board_paths()},
        "components": {"schemas": SCHEMAS, "securitySchemes": {
            "adminToken": {"type": "http", "scheme": "bearer"}}},
    }
