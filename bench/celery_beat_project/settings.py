"""A minimal Django project for the comparison: only django-celery-beat, its own SQLite file, Redis broker."""
import os

SECRET_KEY = "bench-celery-beat-only"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_celery_beat"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("CELERY_BENCH_DB", "/tmp/celery-beat-bench.sqlite3"),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CELERY_BROKER_URL = os.environ.get("CELERY_BENCH_BROKER", "redis://127.0.0.1:6379/15")
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The defaults a Django shop runs with: beat wakes at least every 5 s, a worker prefetches 4 tasks per process.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
