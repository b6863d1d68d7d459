"""Entry point for `celery -A celery_worker worker|beat`: the Flask app's Celery app."""

from booking import create_app

app = create_app()
celery = app.extensions.get("celery")
