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


def test_behind_a_trusted_proxy_the_forwarded_scheme_and_client_count(app_with):
    app = app_with(TRUSTED_PROXIES=1, RATELIMIT_ENABLED=True, SLOTS_RATE_LIMIT="1 per minute")
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    assert "Strict-Transport-Security" in client.get("/", headers=forwarded).headers
    url = "/api/v1/slots?service=beratung&from=2027-03-30&to=2027-03-30"
    assert client.get(url, headers=forwarded).status_code == 200
    assert client.get(url, headers=forwarded).status_code == 429  # the same resident again
    other = {"X-Forwarded-For": "203.0.113.8"}
    assert client.get(url, headers=other).status_code == 200  # not everyone behind the proxy


def test_without_trusted_proxies_forwarded_headers_are_ignored(client):
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
