"""Opsboard settings, read entirely from the environment.

Every variable has an embedded default so that a bare checkout runs: SQLite under
``var/``, Redis on 127.0.0.1:6379, a secret key generated once and kept in ``var/``.
A malformed value stops the process with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from kombu import Queue

from opsboard.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OPSBOARD_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key_from_var() -> str:
    """Read the generated key, creating it atomically on first use (several processes may race)."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        tmp = VAR_DIR / f".secret_key.{os.getpid()}"
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY") or _secret_key_from_var()
# Fernet keys for secrets stored in the database, newest first (see opsboard/crypto.py);
# unset, a key derived from SECRET_KEY is used.
OPSBOARD_ENCRYPTION_KEYS = env_list("OPSBOARD_ENCRYPTION_KEYS", [])
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first, so that runserver is the ASGI one
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the docs page's scripts, served locally rather than from a CDN
    "django_celery_beat",
    "channels",
    "axes",  # failed sign-ins and lockouts, see AXES_* below
    "opsboard",
    "opsboard.accounts",
    "opsboard.audit",
    "monitoring",
    "alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "opsboard.security_headers.OpsboardCSPMiddleware",  # Content-Security-Policy, below
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "opsboard.query_guard.RefuseUnstorableQueryMiddleware",  # ?x=%00 is a 400, not a database error
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "opsboard.accounts.middleware.FailClosedMiddleware",
    "opsboard.accounts.middleware.RequireSecondFactorMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into the lockout page
]

ROOT_URLCONF = "opsboard.urls"
ASGI_APPLICATION = "opsboard.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opsboard.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'opsboard.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at
        # BEGIN, so two writers queue instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Redis: Celery broker, channel layer, cache ----------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_KEY_PREFIX = env_str("OPSBOARD_REDIS_PREFIX", "opsboard")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # socket_timeout None: channels-redis blocks on Redis for 5 s, and redis-py 8's
            # default 5 s read timeout would otherwise drop idle WebSockets.
            # max_connections: redis-py's async pool holds 100 by default and raises "Too many
            # connections" past that (it does not wait), so 200 sockets joining or leaving their
            # groups at once lost half of them (bench/load.py).
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": None,
                    "max_connections": env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000, minimum=10),
                }
            ],
            "prefix": f"{REDIS_KEY_PREFIX}:channels",
        },
    }
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A task a worker took but never acknowledged (the worker died) is delivered again
    # after this many seconds. Keep the hour in production: a task waiting for its ETA (a
    # delivery's retry) or running longer than this is delivered twice. The fault tests
    # shorten it (tests/faults).
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# A worker started without -Q consumes every queue here; start workers with -Q to shard.
CELERY_TASK_QUEUES = [
    Queue(name, routing_key=name) for name in ("default", "maintenance", "polls", "alerts", "pages", "pages-critical")
]
CELERY_TIMEZONE = "UTC"
CELERY_IMPORTS = ["opsboard.health"]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEARTBEAT_INTERVAL = env_float("HEARTBEAT_INTERVAL", 10.0, minimum=1.0)
# Every rule is evaluated this often, in chunks of EVAL_CHUNK rules a task (and also as its data arrives).
EVAL_INTERVAL_S = env_float("EVAL_INTERVAL", 15.0, minimum=1.0)
EVAL_CHUNK = env_int("EVAL_CHUNK", 100, minimum=1)
# Dead man's switch: after a healthy evaluation pass, GET this URL (healthchecks.io, Dead
# Man's Snitch, ...) at most once per OPSBOARD_HEARTBEAT_EVERY_S, so a checker outside pages
# when Opsboard itself stops. Unset: no ping.
OPSBOARD_HEARTBEAT_URL = env_str("OPSBOARD_HEARTBEAT_URL", "")
OPSBOARD_HEARTBEAT_EVERY_S = env_int("OPSBOARD_HEARTBEAT_EVERY_S", 60, minimum=1)
# /metrics (Opsboard's own metrics) without any sign-in; off: a `read` token or an Admin session.
OPSBOARD_METRICS_PUBLIC = env_bool("OPSBOARD_METRICS_PUBLIC", False)

CELERY_TASK_ROUTES = {
    # The heartbeat proves that beat schedules and a worker executes; it goes through the
    # default queue like ordinary work, so a stuck default queue shows on /healthz.
    "opsboard.heartbeat": {"queue": "default"},
    # Store maintenance: bulk SQL that may take seconds; kept off the queues of polls and pages.
    "monitoring.roll_up": {"queue": "maintenance"},
    "monitoring.apply_retention": {"queue": "maintenance"},
    "monitoring.create_partitions": {"queue": "maintenance"},
    # Copies the security-event counters from Redis into the store: small, but off the request path.
    "opsboard.export_security_events": {"queue": "maintenance"},
    # Polls wait on the network: a thread-pool worker (the Procfile's "poller") runs many at
    # once. Each target names its own queue, so a fleet can be sharded across workers.
    "monitoring.dispatch_polls": {"queue": "polls"},
    "monitoring.poll_target": {"queue": "polls"},
    "monitoring.mark_stalled_runs": {"queue": "default"},
    # Evaluation has its own queue and worker (the Procfile's "evaluator"), so that no
    # backlog of polls or maintenance delays an alert.
    "alerts.evaluate_all": {"queue": "alerts"},
    "alerts.evaluate_rules": {"queue": "alerts"},
    "alerts.evaluate_on_arrival": {"queue": "alerts"},
    # Deliveries are sent to "pages-critical" or "pages" by the incident's severity (the
    # Procfile's "pager" serves critical pages alone, so no backlog of warnings delays one).
    # The retry sweep and escalation run on the pager's queue: no backlog of evaluations delays them.
    "alerts.deliver_due": {"queue": "pages-critical"},
    "alerts.escalate": {"queue": "pages-critical"},
}

CELERY_BEAT_SCHEDULE = {
    # Liveness of beat and workers, read by /healthz.
    "heartbeat": {"task": "opsboard.heartbeat", "schedule": HEARTBEAT_INTERVAL},
    # 1-minute and 1-hour rollups of the minutes that received samples.
    "roll-up": {"task": "monitoring.roll_up", "schedule": 60.0},
    # Delete raw samples, rollups and silent series past their retention, in small batches.
    "retention": {"task": "monitoring.apply_retention", "schedule": 600.0},
    # PostgreSQL: the day partitions of raw samples for the week ahead (a write creates a missing one too).
    "sample-partitions": {"task": "monitoring.create_partitions", "schedule": 3600.0},
    # opsboard_security_events_total{kind}, counted in Redis, into the store.
    "security-events": {"task": "opsboard.export_security_events", "schedule": 15.0},
    # Send the polls of targets that are due; one task per target.
    "dispatch-polls": {"task": "monitoring.dispatch_polls", "schedule": 1.0},
    # Training runs silent for RUN_STALL_AFTER_S become stalled.
    "stalled-runs": {"task": "monitoring.mark_stalled_runs", "schedule": 60.0},
    # Every rule, every EVAL_INTERVAL (rules are also evaluated as their data arrives).
    "evaluate-rules": {"task": "alerts.evaluate_all", "schedule": EVAL_INTERVAL_S},
    # Escalation steps, acknowledgement timeouts and reminders that are due.
    "escalate": {"task": "alerts.escalate", "schedule": 10.0},
    # Notifications to retry (backoff) or left claimed by a worker that died.
    "deliver-due": {"task": "alerts.deliver_due", "schedule": 5.0},
}

# --- Time-series store ---------------------------------------------------------------
DAY_S = 86_400
RETENTION_RAW_S = env_int("RETENTION_RAW_DAYS", 15, minimum=1) * DAY_S
RETENTION_1M_S = env_int("RETENTION_1M_DAYS", 90, minimum=1) * DAY_S
RETENTION_1H_S = env_int("RETENTION_1H_DAYS", 730, minimum=1) * DAY_S
RETENTION_BATCH_ROWS = env_int("RETENTION_BATCH_ROWS", 20_000, minimum=100)
# Callables given every store write's `Touched` announcement after commit.
OPSBOARD_SERIES_SUBSCRIBERS: list[str] = [
    "monitoring.runs.on_samples",  # training runs' last step and last-seen time
    "monitoring.live.publish",  # live charts
    "alerts.arrival.on_samples",  # evaluate the rules watching what arrived
]
# A training run that sends nothing for this long is marked stalled.
RUN_STALL_AFTER_S = env_int("RUN_STALL_AFTER_S", 600, minimum=30)
# A selector matching more series than this is refused (narrow it with labels).
QUERY_MAX_SERIES = env_int("QUERY_MAX_SERIES", 5000, minimum=1)
PUSH_MAX_BODY_BYTES = env_int("PUSH_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
PUSH_MAX_SAMPLES = env_int("PUSH_MAX_SAMPLES", 100_000, minimum=1)
PUSH_MAX_NEW_SERIES_PER_MINUTE = env_int("PUSH_MAX_NEW_SERIES_PER_MINUTE", 10_000, minimum=0)
# Samples stamped further ahead than this are refused (a clock running fast).
PUSH_MAX_FUTURE_S = env_int("PUSH_MAX_FUTURE_S", 300, minimum=0)

# --- Paging -------------------------------------------------------------------------------
# The address people reach Opsboard at, for links in notifications.
OPSBOARD_BASE_URL = env_str("OPSBOARD_BASE_URL", "http://127.0.0.1:8000")
ACK_LINK_MAX_AGE_S = env_int("ACK_LINK_MAX_AGE_S", 86_400, minimum=60)
NOTIFY_GIVE_UP_AFTER_S = env_int("NOTIFY_GIVE_UP_AFTER_S", 86_400, minimum=60)
# A worker killed while sending leaves its claim on the notification for this long; then the
# message is sent again (same delivery id). Keep it longer than a transport may take to answer
# (webhooks and SMTP time out after 10 s), or a slow answer gets a second copy.
NOTIFY_LEASE_S = env_int("NOTIFY_LEASE_S", 60, minimum=1)
# The longest wait between two attempts of one notification (the backoff doubles from 1 s up to it).
NOTIFY_MAX_BACKOFF_S = env_float("NOTIFY_MAX_BACKOFF_S", 60.0, minimum=1.0)
# Webhook and Slack URLs come from users: addresses inside the network are refused, but
# for the hosts listed here (the demo's receiver inside Opsboard lives on loopback).
NOTIFY_ALLOW_PRIVATE = env_bool("NOTIFY_ALLOW_PRIVATE", False)
NOTIFY_PRIVATE_ALLOWLIST = env_list("NOTIFY_PRIVATE_ALLOWLIST", ["127.0.0.1", "localhost", "::1"])

# --- The demo of `make run` -----------------------------------------------------------
OPSBOARD_DEMO = env_bool("OPSBOARD_DEMO", True)
OPSBOARD_DEMO_PORT = env_int("OPSBOARD_DEMO_PORT", 8001, minimum=1)

# --- Authentication -------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The first Admin, created by `manage.py ensure_admin` when no Admin exists.
OPSBOARD_ADMIN_USER = env_str("OPSBOARD_ADMIN_USER", "admin")
OPSBOARD_ADMIN_PASSWORD = env_str("OPSBOARD_ADMIN_PASSWORD")
# When Opsboard runs behind a reverse proxy, the client address comes from X-Forwarded-For.
TRUST_X_FORWARDED_FOR = env_bool("OPSBOARD_TRUST_X_FORWARDED_FOR", False)
# Lockout (django-axes): the first backend refuses a sign-in while its user name and address
# are locked out. Locking the pair, not the user, means an attacker cannot lock a user out
# from everywhere by failing on purpose; spraying passwords from many addresses is left to
# the rate of failed sign-ins (the opsboard_security_events_total series and its alert rule).
AUTHENTICATION_BACKENDS = [
    "opsboard.accounts.backends.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "opsboard.audit.services.client_ip"  # the audit log's address, proxy-aware
AXES_LOCKOUT_CALLABLE = "opsboard.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True  # a successful sign-in forgets that address's earlier failures
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in the audit log already
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]  # never logged or kept in plain
AXES_HTTP_RESPONSE_CODE = 429
# Admins must set up a second factor (TOTP) before they can use anything else.
REQUIRE_TOTP_FOR_ADMINS = env_bool("OPSBOARD_REQUIRE_TOTP_FOR_ADMINS", False)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "opsboard.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opsboard.accounts.permissions.HasRole"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON, form and multipart parsers, refusing text the database cannot keep (NUL, lone surrogates).
    "DEFAULT_PARSER_CLASSES": [
        "opsboard.api_input.JSONParser",
        "opsboard.api_input.FormParser",
        "opsboard.api_input.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Opsboard API",
    "DESCRIPTION": "Metrics, targets, alerts and incidents of Opsboard.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "REDOC_DIST": "SIDECAR",
    # Incidents, runs and run finishes all have a "status" field; naming the incidents' choice
    # set keeps the schema's enum names stable (and `check --deploy` free of drf_spectacular.W001).
    "ENUM_NAME_OVERRIDES": {"IncidentStatusEnum": "alerts.models.incidents.Incident.STATUSES"},
    # Adds the refusals (400, 401, 403, 404, 415) an operation can answer to what its view documents.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "opsboard.api_errors.document_refusals"],
}

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "opsboard.staticfinders.PlotlyFinder",  # plotly.js from the plotly package, never a CDN
]
WHITENOISE_USE_FINDERS = True

# --- Mail -----------------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "opsboard@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- HTTPS (production) ---------------------------------------------------------------
HTTPS = env_bool("OPSBOARD_HTTPS", False)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is a promise to browsers' built-in lists that every subdomain serves
        # HTTPS forever, hard to take back; it is opted into, so its reminder is silenced.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp, through opsboard.security_headers): scripts and styles
# only from our own static files, no inline script, no eval (plotly.js 4 needs none). plotly.js
# adds two <style> elements: an empty one that it fills through the CSSOM (which style-src does
# not govern), and MapLibre's fixed stylesheet; their SHA-256 hashes allow exactly those two,
# where 'unsafe-inline' would allow any injected style. tests/security/test_csp_policy.py
# recomputes them from the bundled plotly.min.js. The middleware adds ws:// and wss:// of the
# request's host to connect-src for the live sockets.
PLOTLY_STYLE_HASHES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty <style> plotly fills
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",  # MapLibre's CSS, in plotly.js 4.1.1
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "connect-src": ["'self'"],
        "style-src": ["'self'", *PLOTLY_STYLE_HASHES],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}
# Directives replaced for single views, by URL name. Redoc (the API docs) injects generated
# <style> elements (styled-components; 'unsafe-inline' is ignored beside hashes, so the
# directive is replaced) and runs its search index in a worker built from a blob: URL. Its
# logo from cdn.redoc.ly stays blocked: the docs load nothing from other sites.
OPSBOARD_CSP_VIEW_DIRECTIVES = {
    "api:docs": {"style-src": ["'self'", "'unsafe-inline'"], "worker-src": ["'self'", "blob:"]},
}

# --- Time and language ----------------------------------------------------------------
FORMS_URLFIELD_ASSUME_HTTPS = True  # Django 6's default for URLs typed without a scheme
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Logging --------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
