"""`make run` serves on PORT (default 5000), and the links in its emails point there."""

from __future__ import annotations

import importlib

import pytest

from booking import devserver


@pytest.fixture
def served_on(monkeypatch):  # type: ignore[no-untyped-def]
    def load(port: str | None):  # type: ignore[no-untyped-def]
        if port is None:
            monkeypatch.delenv("PORT", raising=False)
        else:
            monkeypatch.setenv("PORT", port)
        return importlib.reload(devserver)

    yield load
    monkeypatch.delenv("PORT", raising=False)
    importlib.reload(devserver)


def test_make_run_serves_on_port_5000_by_default(served_on):  # type: ignore[no-untyped-def]
    server = served_on(None)
    web = server.commands()[0]
    assert web[web.index("--port") + 1] == "5000"
    assert server.URL == "http://127.0.0.1:5000"


def test_make_run_serves_on_the_port_it_is_given(served_on):  # type: ignore[no-untyped-def]
    server = served_on("5123")
    web = server.commands()[0]
    assert web[web.index("--port") + 1] == "5123"
    assert server.URL == "http://127.0.0.1:5123"
