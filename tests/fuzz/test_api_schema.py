"""schemathesis generates requests from /api/v1/openapi.json: no 5xx, and every answer
matches the description (status, content type, body)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from booking.extensions import db
from tests.conftest import Clock, make_app


@pytest.fixture(scope="module")
def api_app(tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("schema")
    app = make_app(f"sqlite:///{folder / 'test.db'}", Clock(), str(folder / "instance"), SERVER_NAME=None)
    with app.app_context():
        db.create_all()
    return app


# The pytest plugin of schemathesis does not load under pytest 9; its strategies work directly.
SCHEMA_OPERATIONS = [
    "GET /services",
    "GET /slots",
    "GET /challenge",
    "POST /bookings",
    "GET /bookings/{token}",
    "DELETE /bookings/{token}",
]


@pytest.mark.parametrize("label", SCHEMA_OPERATIONS)
def test_api_never_fails_and_always_answers_as_described(api_app, label):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", api_app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the OpenAPI description"

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy())
    def check(case):  # type: ignore[no-untyped-def]
        case.call_and_validate(
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ]
        )

    check()
