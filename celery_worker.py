"""Entry point for `celery -A celery_worker worker|beat`: the Flask app's Celery app.

The Flask app must not be called `app` here: `celery -A` would pick it instead of `celery`.
"""

from booking import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
