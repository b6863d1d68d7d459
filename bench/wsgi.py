"""The app as production runs it, plus the benchmark's baselines in the same process:
a bare JSON endpoint and a bare one-INSERT endpoint."""

from __future__ import annotations

import os

from flask import Response, jsonify, request
from sqlalchemy import text

from booking import create_app
from booking.extensions import csrf, db

app = create_app()
PAYLOAD_BYTES = int(os.environ.get("BENCH_PAYLOAD_BYTES", "20000"))
# A JSON document of the same size as a slots answer, built once.
_ITEM = {"start": "2027-03-30T08:30:00+02:00", "end": "2027-03-30T09:00:00+02:00", "available": 2}
_PAYLOAD = {
    "service": "beratung",
    "timezone": "Europe/Berlin",
    "slots": [_ITEM] * max(1, PAYLOAD_BYTES // (len(str(_ITEM)) + 1)),
}


@app.get("/bench/json")
def bare_json() -> Response:
    return jsonify(_PAYLOAD)


@csrf.exempt
@app.post("/bench/insert")
def bare_insert() -> tuple[Response, int]:
    body = request.get_json(silent=True) or {}
    db.session.execute(
        text("INSERT INTO bench_rows (name) VALUES (:name)"), {"name": str(body.get("name", ""))[:100]}
    )
    db.session.commit()
    return jsonify(ok=True), 201
