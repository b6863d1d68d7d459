"""Every response carries the security headers; pages with a booking token are never cached."""

import pytest


@pytest.mark.parametrize("path", ["/", "/book/beratung", "/privacy", "/api/v1/services", "/no-such-page"])
def test_every_response_forbids_inline_script_framing_and_sniffing(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_hsts_is_sent_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://termine.test")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_manage_pages_are_not_cached(client):
    assert client.get("/b/unknown-token").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")
