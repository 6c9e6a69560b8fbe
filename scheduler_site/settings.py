"""Django settings. Every deployment choice comes from the environment (see the README's table)."""
from datetime import timedelta
from pathlib import Path

import dj_database_url

from tasks_app.definition import alert_rules, envnames

from .env import (
    env_alert_rules, env_bool, env_choice, env_delays, env_executable, env_fernet_keys, env_float, env_hosts, env_int, env_limits, env_list,
    env_name_values, env_path, env_rate, env_run_as, env_str, env_timezone, env_token, secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = secret_key(BASE_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# DJANGO_HTTPS=true: the site is reached over HTTPS only, through a TLS proxy that talks plain HTTP to `serve`
# and sets X-Forwarded-Proto (it must overwrite a value the client sent). Cookies are then sent over HTTPS only,
# browsers are told to use nothing else (HSTS) and a plain-HTTP request is redirected.
HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000, minimum=1)
# Load balancers, Kubernetes probes and Prometheus ask /healthz, /healthz/scheduler and /metrics over plain HTTP
# inside the cluster, and do not follow a redirect to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/scheduler)?$", r"^metrics$"]

# The folders the engine owns. Task scripts must live inside TASKS_DIR.
TASKS_DIR = env_path("TASKS_DIR", Path("tasks"), BASE_DIR)
CONF_DIR = env_path("CONF_DIR", Path("conf"), BASE_DIR)
LOGS_DIR = env_path("LOGS_DIR", Path("logs"), BASE_DIR)
BACKUPS_DIR = CONF_DIR / "backups"
EXECUTION_OUTPUT_DIR = LOGS_DIR / "executions"
# The keys that encrypt task secrets (tasks_app/secrets/keys.py): from the environment, newest first, else the key
# file, made on first use. Never in the database or CONF_DIR.
SECRETS_KEYS = env_fernet_keys("SCHEDULER_SECRETS_KEY")
SECRETS_KEY_FILE = env_path("SCHEDULER_SECRETS_KEY_FILE", Path(".secrets_key"), BASE_DIR)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_apscheduler",
    "axes",  # before tasks_app, whose admin leaves the other apps' models to superusers
    "auditlog",  # the audit trail's table (tasks_app/audit/); before tasks_app too, whose admin replaces its admin
    "tasks_app",
]

MIDDLEWARE = [
    "tasks_app.front.bodylimit.RequestBodyLimitMiddleware",  # before anything reads a body
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tasks_app.audit.context.AuditContextMiddleware",  # who and from where, for the audit entries a request makes
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into the locked-out page
]

# Request bodies larger than this are refused (413) on every path; `serve` makes waitress enforce it too.
REQUEST_MAX_BODY_BYTES = env_int("REQUEST_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BODY_BYTES

ROOT_URLCONF = "scheduler_site.urls"
WSGI_APPLICATION = "scheduler_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tasks_app.web.context.pauses",  # the pause banner of every page
                "tasks_app.web.banner.scheduler_banner",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=0
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the scheduler writes; IMMEDIATE transactions plus a
    # busy timeout make concurrent writers wait for each other instead of failing "database is locked".
    # Django's backend, with write transactions that wait for the lock without the busy handler's long sleeps.
    DATABASES["default"]["ENGINE"] = "scheduler_site.sqlite3"
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# e.g. tasks_app.W001 (task scripts run as root) where that is wanted.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS", [])

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "tasks_app" / "locale"]
USE_I18N = True
USE_TZ = True
# The zone cron expressions are read in, unless a task names its own.
TIME_ZONE = env_timezone("TIME_ZONE")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve app static files straight from the apps, so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Messages live in the server-side session, never in a cookie: a new API key is shown once through one.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

AUTHENTICATION_BACKENDS = [
    "tasks_app.front.logins.LoginThrottleBackend",  # refuses locked-out logins first (django-axes)
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (tasks_app/front/logins.py): this many failures for one user name from one address lock
# that pair out for LOGIN_COOLOFF seconds; a successful login clears the count.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF = env_int("LOGIN_COOLOFF", 900, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_COOLOFF)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lock ends LOGIN_COOLOFF after the last counted failure
AXES_LOCKOUT_CALLABLE = "tasks_app.front.logins.locked_out"
AXES_CLIENT_IP_CALLABLE = "tasks_app.front.address.client_address"
AXES_DISABLE_ACCESS_LOG = True  # only failures are counted; successful logins are not kept in a table of their own
AXES_VERBOSE = False

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/dashboard"  # the landing page after login
LOGOUT_REDIRECT_URL = "login"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Behind a reverse proxy, how many trusted proxies add to X-Forwarded-For; 0 (none): the client is REMOTE_ADDR.
DJANGO_PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 0, minimum=0)

# The API's throttles (tasks_app/api/throttles.py). The counts live in this cache: local memory is per process,
# so with several web processes name a shared one (e.g. django.core.cache.backends.db.DatabaseCache with a
# table name as the location, after `manage.py createcachetable`; or Redis).
CACHES = {
    "default": {
        "BACKEND": env_str("DJANGO_CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        "LOCATION": env_str("DJANGO_CACHE_LOCATION", ""),
    }
}
API_THROTTLE_KEY = env_rate("API_THROTTLE_KEY", "1200/min")  # per API key (a session: per user)
API_THROTTLE_ANON = env_rate("API_THROTTLE_ANON", "120/min")  # requests without credentials, per address
API_THROTTLE_HOOK = env_rate("API_THROTTLE_HOOK", "30/min")  # starts through one trigger URL
API_KEY_FAILURE_LIMIT = env_int("API_KEY_FAILURE_LIMIT", 20, minimum=1)  # bad keys from one address ...
API_KEY_FAILURE_WINDOW = env_int("API_KEY_FAILURE_WINDOW", 60, minimum=1)  # ... within this many seconds ...
API_KEY_FAILURE_COOLOFF = env_int("API_KEY_FAILURE_COOLOFF", 900, minimum=1)  # ... lock it out this long

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tasks_app.api.authentication.BearerKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tasks_app.api.permissions.RolePermission"],
    # DRF's own, with a JSON parser that refuses lone surrogates (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["tasks_app.api.parsers.StrictJSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tasks_app.api.errors.json_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["tasks_app.api.throttles.KeyThrottle"],
    "NUM_PROXIES": DJANGO_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Task scheduling engine API",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# E-mail: SMTP when EMAIL_HOST is set, otherwise printed to the console (development).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "scheduler@localhost")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "logs" / "mail"))
# Used to build links in notifications (e.g. https://scheduler.example.com).
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Engine settings.
SCHEDULER_MAX_WORKERS = env_int("SCHEDULER_MAX_WORKERS", 8, minimum=1)
SCHEDULER_STOP_GRACE = env_int("SCHEDULER_STOP_GRACE", 10, minimum=0)  # seconds, on SIGTERM
SCHEDULER_KILL_GRACE = env_int("SCHEDULER_KILL_GRACE", 2, minimum=0)  # SIGTERM -> SIGKILL, seconds
# On a stop asked by a user, so that the stop completes within 2 s.
SCHEDULER_STOP_KILL_GRACE = env_float("SCHEDULER_STOP_KILL_GRACE", 1.0, minimum=0)
# How often the scheduler checks the change marker, queued runs and stop requests.
SCHEDULER_TICK = env_float("SCHEDULER_TICK", 0.5, minimum=0.05)
# The longest an idle scheduler listening for changes (NOTIFY, inotify) goes without reading the database: a
# notice it missed is found this late at worst. 10 s: each read is most of an idle engine's CPU (0.05 % of a core
# is the bar), and NOTIFY or inotify bring every change at once; this only catches one lost in between.
SCHEDULER_SAFETY_POLL = env_float("SCHEDULER_SAFETY_POLL", 10.0, minimum=1, maximum=60)
# How long the scheduler waits for a locked SQLite database before retrying on the next tick.
SCHEDULER_DB_BUSY_TIMEOUT = env_float("SCHEDULER_DB_BUSY_TIMEOUT", 5.0, minimum=0.1)
SCHEDULER_RESYNC_INTERVAL = env_int("SCHEDULER_RESYNC_INTERVAL", 300, minimum=10)  # full job-store resync, s
SCHEDULER_OUTPUT_LIMIT = env_int("SCHEDULER_OUTPUT_LIMIT", 1024 * 1024, minimum=1024)  # bytes kept per run
# Added to every run's environment after task_env (which cannot override them): what operators may not set,
# such as a proxy, a CA bundle or a PATH with more folders (it replaces the engine's PATH).
SCHEDULER_TASK_ENV = env_name_values("SCHEDULER_TASK_ENV", valid_name=envnames.NAME.fullmatch,
                                     reserved=envnames.ENGINE_NAMES)
# Who runs start as (the scheduler must be root to switch): "user" or "user:group"; "" = the scheduler's user.
SCHEDULER_RUN_AS = env_run_as("SCHEDULER_RUN_AS")
# Users a task may name in its task_run_as.
SCHEDULER_RUN_AS_ALLOWED = env_list("SCHEDULER_RUN_AS_ALLOWED", [])
# Every run's resource limits unless the task sets its own (see the README); memory, when not named here,
# is 2 GiB where a cgroup enforces it and none otherwise.
SCHEDULER_LIMITS = env_limits("SCHEDULER_LIMITS", {"processes": 512, "open_files": 1024})
# The most a task's task_limits may ask for (operators set task_limits; only the administrator raises these).
# By default the limits every run gets, memory 2 GiB: a task may lower its limits, not lift them.
SCHEDULER_LIMITS_MAX = env_limits("SCHEDULER_LIMITS_MAX", {"memory": 2 * 1024 ** 3, **SCHEDULER_LIMITS})
# "auto": each run gets its own cgroup where the scheduler can create one; "off": setrlimit only.
SCHEDULER_CGROUPS = env_choice("SCHEDULER_CGROUPS", "auto", ("auto", "off"))
# Fast start: a run's shepherd forked by a pre-started interpreter (engine/forkserver.py) instead of spawned;
# a task's task_fast_start overrides it. See the README's "Fast start".
SCHEDULER_FAST_START = env_bool("SCHEDULER_FAST_START", False)
# The interpreter task scripts run with; empty = the scheduler's own.
SCHEDULER_PYTHON = env_executable("SCHEDULER_PYTHON")
# Where runs run: "local" (the scheduler's own pool of SCHEDULER_MAX_WORKERS threads) or "celery" (Celery workers
# on any machine, through the broker CELERY_BROKER_URL; PostgreSQL only). See docs/engine.md and docs/deploy.md.
SCHEDULER_EXECUTOR = env_choice("SCHEDULER_EXECUTOR", "local", ("local", "celery"))
# redis://host:6379/0 or amqp://user:password@host:5672/vhost; scheduler_site/celery.py holds the rest of the
# Celery configuration (prefetch 1, the threads pool, no result backend).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
# A worker that has not written its heartbeat (every 5 s) for this long is dead: its runs become lost.
WORKER_LOST_AFTER = env_int("WORKER_LOST_AFTER", 30, minimum=10)
# A run sent to a queue that no worker has started after this long is sent again (a message lost with a broker
# that kept nothing on disk), then after twice as long, and so on up to an hour; it can never start twice.
SCHEDULER_RESEND_AFTER = env_int("SCHEDULER_RESEND_AFTER", 60, minimum=1)
HISTORY_KEEP_PER_TASK = env_int("HISTORY_KEEP_PER_TASK", 1000, minimum=1)
HISTORY_MAX_AGE_DAYS = env_int("HISTORY_MAX_AGE_DAYS", 90, minimum=1)
TASK_NOTIFIERS = env_list(
    "TASK_NOTIFIERS",
    ["tasks_app.engine.notify.EmailNotifier", "tasks_app.engine.notify.WebhookNotifier"],
)
# Task types added by plugins: dotted paths of TaskType subclasses (tasks_app/tasktypes, docs/plugins.md).
TASK_TYPES = env_list("TASK_TYPES", [])
# Where each run's output lines go as they are written (masked): dotted paths of log handlers (docs/plugins.md).
TASK_LOG_HANDLERS = env_list("TASK_LOG_HANDLERS", [])
# Alert rules every task gets unless its task_alerts says otherwise (tasks_app/definition/alert_rules.py).
TASK_ALERTS = env_alert_rules("TASK_ALERTS", alert_rules.problems)
# A notice that could not be sent is tried again after each of these waits (seconds), then given up.
NOTIFY_RETRY_DELAYS = env_delays("NOTIFY_RETRY_DELAYS", [30, 120, 600])
# The language of alert messages ("en" or "zh-hans"); empty: the site's LANGUAGE_CODE.
NOTIFY_LANGUAGE = env_choice("NOTIFY_LANGUAGE", "", ("", "en", "zh-hans"))
# The web process's watchdog: how often it looks (seconds), and after how long without a heartbeat the scheduler
# counts as down (0: the watchdog is off).
SCHEDULER_WATCH_INTERVAL = env_float("SCHEDULER_WATCH_INTERVAL", 30.0, minimum=0)
SCHEDULER_DOWN_AFTER = env_int("SCHEDULER_DOWN_AFTER", 120, minimum=10)
# The leading scheduler renews its lease (its heartbeat, in the database) this often; a lease lasts three
# heartbeats, after which a standby takes over and /healthz/scheduler answers 503. At most 20: a standby must
# take over a vanished machine's place within a minute.
SCHEDULER_HEARTBEAT_SECONDS = env_float("SCHEDULER_HEARTBEAT_SECONDS", 2.0, minimum=0.2, maximum=20)
# The pages' red banner: no scheduler alive for this many seconds.
SCHEDULER_BANNER_AFTER = env_int("SCHEDULER_BANNER_AFTER", 30, minimum=1)
# Webhooks (and any notifier's requests) go only to public addresses, except these hosts and networks.
NOTIFY_ALLOW_PRIVATE_HOSTS = env_hosts("NOTIFY_ALLOW_PRIVATE_HOSTS")
# Audit entries older than this many days are deleted by the daily housekeeping (each task's latest version stays).
# /metrics (docs/metrics.md): the bearer token a Prometheus scraper sends (empty: only logged-in users may read),
# and whether series carry a task_id label ("auto": up to 1,000 tasks).
METRICS_TOKEN = env_token("METRICS_TOKEN", 24)
METRICS_PER_TASK = env_choice("METRICS_PER_TASK", "auto", ("auto", "on", "off"))
AUDIT_KEEP_DAYS = env_int("AUDIT_KEEP_DAYS", 365, minimum=1)
BACKUPS_KEEP = env_int("BACKUPS_KEEP", 50, minimum=1)
BACKUPS_DAILY_DAYS = env_int("BACKUPS_DAILY_DAYS", 30, minimum=0)

LOG_LEVEL = "DEBUG" if DEBUG else env_str("LOG_LEVEL", "INFO").upper()
LOG_MAX_BYTES = env_int("LOG_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
LOG_BACKUP_COUNT = env_int("LOG_BACKUP_COUNT", 5, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # The document's format, with every logged value kept on its line (tasks_app/logs/escape.py).
        "document": {"()": "tasks_app.logs.escape.EscapingFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "document"},
        "sys_log": {
            "()": "tasks_app.logs.setup.make_file_handler",
            "path": str(LOGS_DIR / "sys.log"),
            "max_bytes": LOG_MAX_BYTES,
            "backup_count": LOG_BACKUP_COUNT,
            "formatter": "document",
        },
    },
    "loggers": {
        # The document's component names, one logger each.
        name: {"handlers": ["console", "sys_log"], "level": LOG_LEVEL, "propagate": False}
        for name in (
            "SchedulerEngine",
            "TaskLoader",
            "Scheduler",
            "TaskExecutor",
            "APIInterface",
            "WebInterface",
        )
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
}
