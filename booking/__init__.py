"""Termine: online appointments for a public office. `create_app` is the factory."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, has_request_context, request, session
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from booking import connections
from booking.extensions import babel, csrf, db, limiter, login, migrate
from booking.legal_texts import load_legal_texts
from booking.office import Office, load_office
from booking.text_match import register_sqlite_functions

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = ROOT / "migrations"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from `config.Config` (the environment), overridden by `test_config`."""
    from config import Config

    instance_path = (test_config or {}).get("INSTANCE_PATH") or Config.INSTANCE_PATH
    app = Flask(
        __name__,
        instance_relative_config=True,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _derive_defaults(app)

    office = load_office(app.config["OFFICE_CONFIG"])
    app.extensions["office"] = office
    legal = load_legal_texts(app.config["OFFICE_CONFIG"])
    app.extensions["legal_texts"] = legal
    app.config["BABEL_DEFAULT_TIMEZONE"] = office.timezone.key
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["LANGUAGES"][0]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(Path(__file__).parent / "translations")

    if app.config.get("TRUSTED_PROXIES"):
        # Behind a TLS-terminating proxy: take client address, scheme and host from its headers,
        # so rate limits count residents (not the proxy) and links and HSTS use https.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if app.config.get("MAIL_BACKEND") == "smtp" and not app.config.get("PUBLIC_URL"):
        app.logger.warning("PUBLIC_URL is not set: links in emails will point at http://127.0.0.1:5000")
    if legal.placeholders():
        app.logger.warning("office file: placeholders still to replace: %s", ", ".join(legal.placeholders()))
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_language)
    limiter.init_app(app)
    login.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)
        connections.watch(db.engine)

    from booking import cli, errors, security
    from booking.web import (  # noqa: F401
        api,
        challenges,
        confirmation,
        hardening,
        legal,
        month,
        public,
        public_cancel,
        public_details,
        public_find,
        public_verify,
        public_waitlist,
        staff,
        staff_absences,
        staff_accounts,
        staff_base,
        staff_closures,
        staff_exports,
        staff_no_shows,
        staff_search,
        staff_stats,
        templating,
    )

    hardening.init_app(app)  # before the routes: their ids are bounded
    app.register_blueprint(public.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(staff_base.bp)  # the routes of the staff_* modules above
    app.register_blueprint(staff_base.feed_bp)
    csrf.exempt(api.bp)
    templating.init_app(app)
    challenges.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    from booking.celery_app import celery_init_app

    celery_init_app(app)
    return app


def _derive_defaults(app: Flask) -> None:
    """Fill settings left empty with development defaults kept in `instance/`."""
    instance = Path(app.instance_path)
    if not app.config.get("SECRET_KEY"):
        key_file = instance / "secret_key"
        try:  # exclusive create: web workers starting together end up with the same key
            with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(secrets.token_hex(32))
        except FileExistsError:
            pass
        for _attempt in range(50):  # another process may be writing it this very moment
            key = key_file.read_text().strip()
            if key:
                break
            time.sleep(0.02)
        app.config["SECRET_KEY"] = key
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'termine.db'}"


def _tune_sqlite(engine: Any) -> None:
    """SQLite: wait for locks, and take the write lock at BEGIN so concurrent bookings queue
    instead of failing (the pysqlite recipe in SQLAlchemy's documentation)."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def select_language() -> str:
    """Explicit choice (session), else the language a booking was made in (its manage pages),
    else the browser's Accept-Language, else German."""
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI, Celery tasks: the default (emails force their own language)
        return languages[0]
    chosen = session.get("language")
    if chosen in languages:
        return chosen
    if g.get("booking_language") in languages:
        return g.booking_language
    return request.accept_languages.best_match(languages) or languages[0]


def current_office() -> Office:
    from flask import current_app

    return current_app.extensions["office"]
