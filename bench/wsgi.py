"""The app as production runs it, plus the benchmark's baselines in the same process:
a bare JSON endpoint and a bare one-INSERT endpoint."""

from __future__ import annotations

import os
from typing import Any

from flask import Response, jsonify, request
from sqlalchemy import text

from booking import create_app
from booking.extensions import csrf, db

app = create_app()
# The size of /bench/json without `bytes`.
PAYLOAD_BYTES = int(os.environ.get("BENCH_PAYLOAD_BYTES", "20000"))
MAX_PAYLOAD_BYTES = 10_000_000
_ITEM = {"start": "2027-03-30T08:30:00+02:00", "end": "2027-03-30T09:00:00+02:00", "available": 2}
_PAYLOADS: dict[int, dict[str, Any]] = {}


def _document(items: int) -> dict[str, Any]:
    return {"service": "beratung", "timezone": "Europe/Berlin", "slots": [_ITEM] * max(1, items)}


def payload(size: int) -> dict[str, Any]:
    """A JSON document shaped like a slots answer whose encoding is `size` bytes (to within one
    slot), built once per size: the baseline of a slots answer of that size."""
    found = _PAYLOADS.get(size)
    if found is None:
        one = len(jsonify(_document(2)).get_data()) - len(jsonify(_document(1)).get_data())
        items = max(1, size // one)
        items += round((size - len(jsonify(_document(items)).get_data())) / one)
        found = _PAYLOADS[size] = _document(items)
    return found


@app.get("/bench/json")
def bare_json() -> Response:
    """?bytes=N: a document of N bytes (default BENCH_PAYLOAD_BYTES), encoded per request."""
    size = request.args.get("bytes", PAYLOAD_BYTES, type=int)
    return jsonify(payload(min(max(size, 0), MAX_PAYLOAD_BYTES)))


@csrf.exempt
@app.post("/bench/insert")
def bare_insert() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    db.session.execute(
        text("INSERT INTO bench_rows (name) VALUES (:name)"), {"name": str(body.get("name", ""))[:100]}
    )
    db.session.commit()
    return jsonify(ok=True), 201
