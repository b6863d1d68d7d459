"""The Celery app bound to a Flask app (the Flask documentation's pattern), with its broker and schedule.

Without `CELERY_BROKER_URL` the broker is kombu's filesystem transport: message files under
`instance/broker/`, shared by every process on this machine, no server to run. Results are never
read, so there is no result backend. Delivery is made safe by the outbox, not by the broker:
tasks acknowledge late and are idempotent, and beat relays whatever a lost message missed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.schedules import crontab
from celery.signals import worker_process_init
from flask import Flask, has_app_context


def celery_config(app: Flask) -> dict[str, Any]:
    """Celery settings from the app's config; `app.config["CELERY"]` (tests) overrides them."""
    instance = Path(app.instance_path)
    broker = app.config.get("CELERY_BROKER_URL") or "filesystem://localhost//"
    relay = float(app.config.get("OUTBOX_RELAY_SECONDS") or 10)
    scan = float(app.config.get("REMINDER_SCAN_SECONDS") or 60)
    config: dict[str, Any] = {
        "broker_url": broker,
        "task_ignore_result": True,
        "result_backend": None,
        # A message is acknowledged after its task ran, and given back when a worker dies.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "broker_connection_retry_on_startup": True,
        # Publishing from a web request must fail fast when the broker is away (the relay catches up).
        "broker_connection_timeout": 2.0,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": app.extensions["office"].timezone.key,
        "beat_schedule_filename": str(instance / "celerybeat-schedule"),
        "beat_schedule": {
            "relay-outbox": {
                "task": "termine.relay_outbox",
                "schedule": timedelta(seconds=relay),
                # A relay nobody ran in time is pointless once the next one is queued.
                "options": {"expires": max(relay * 3, 5)},
            },
            "scan-reminders": {
                "task": "termine.scan_reminders",
                "schedule": timedelta(seconds=scan),
                "options": {"expires": max(scan * 2, 5)},
            },
            "scan-waitlist": {
                "task": "termine.scan_waitlist",
                "schedule": timedelta(seconds=scan),
                "options": {"expires": max(scan * 2, 5)},
            },
            "anonymise-expired": {
                "task": "termine.anonymise_expired",
                "schedule": crontab(hour=3, minute=15),
                "options": {"expires": 6 * 3600},
            },
        },
    }
    if broker.startswith("filesystem"):
        folders = {name: instance / "broker" / name for name in ("queue", "processed", "control")}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        config["broker_transport_options"] = {
            # One folder both ways: every process writes to and reads from the same queue.
            "data_folder_in": str(folders["queue"]),
            "data_folder_out": str(folders["queue"]),
            "processed_folder": str(folders["processed"]),
            "control_folder": str(folders["control"]),
            "store_processed": False,
        }
        # Remote control needs broadcast queues the file transport keeps poorly; nothing uses it here.
        config["worker_enable_remote_control"] = False
    elif broker.startswith(("redis", "rediss")):
        config["broker_transport_options"] = {"socket_connect_timeout": 2, "socket_timeout": 5}
    config.update(app.config.get("CELERY") or {})
    return config


def celery_init_app(app: Flask) -> Celery:
    """Make the Celery app whose tasks run inside this Flask app's context."""

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            # Called in-process (tests, CLI) the caller's app context is already the right one.
            if has_app_context():
                return self.run(*args, **kwargs)
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    config = celery_config(app)
    app.config["CELERY"] = config
    celery_app.config_from_object(config)
    celery_app.set_default()
    celery_app.flask_app = app  # type: ignore[attr-defined]  (for the worker's fork hook)
    app.extensions["celery"] = celery_app

    import booking.notify.tasks  # noqa: F401  (registers the tasks and the after-commit hook)

    return celery_app


@worker_process_init.connect
def _fresh_connections(**_kwargs: object) -> None:
    """A forked worker child must not share the parent's database connections."""
    from celery import current_app as current_celery

    from booking.extensions import db

    flask_app = getattr(current_celery, "flask_app", None)
    if flask_app is not None:
        with flask_app.app_context():
            db.engine.dispose(close=False)
