"""Django settings, all from the environment (12-factor). See README "Configuration" for every variable."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

from ketaclinic.web.config.bootstrap import DATABASE_FILE, data_home, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SECRET = "insecure-default-do-not-use-in-production"


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# KETACLINIC_ENV: "production" (ketaclinic serve), "development" (demo, tests).
ENVIRONMENT = os.environ.get("KETACLINIC_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = _bool("DEBUG", False)
TESTING = _bool("KETACLINIC_TESTING", False)

SECRET_KEY = os.environ.get("SECRET_KEY") or (DEFAULT_SECRET if PRODUCTION else local_secret_key())
ALLOWED_HOSTS = _list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = _list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # ninja's API docs page then uses its packaged Swagger files (no CDN, no inline script: the CSP holds).
    "ninja",
    "channels",
    "ketaclinic.web.lib",
    "ketaclinic.web.accounts",
    "ketaclinic.web.clinics",
    "ketaclinic.web.patients",
    "ketaclinic.web.audit",
    "ketaclinic.web.assessments",
    "ketaclinic.web.screening",
    "ketaclinic.web.treatment",
    "ketaclinic.web.monitoring",
    "ketaclinic.web.ledger",
    "ketaclinic.web.decision",
    "ketaclinic.web.telehealth",
    "ketaclinic.web.therapy",
    "ketaclinic.web.surveillance",
    "ketaclinic.web.pain",
    "ketaclinic.web.outcomes",
    "ketaclinic.web.careplan",
    "ketaclinic.web.patientprep",
    "ketaclinic.web.home",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ketaclinic.web.lib.headers.SecurityHeadersMiddleware",
    "ketaclinic.web.lib.middleware.HeadAsGetMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ketaclinic.web.lib.middleware.SessionIdleRefreshMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "ketaclinic.web.lib.middleware.ActiveClinicMiddleware",
    "ketaclinic.web.lib.middleware.SiteTimeZoneMiddleware",
    "ketaclinic.web.lib.middleware.DomainErrorMiddleware",
    "ketaclinic.web.lib.middleware.ApiBodyGuardMiddleware",
    "ketaclinic.web.lib.hostile.NulParameterGuardMiddleware",
]

ROOT_URLCONF = "ketaclinic.web.config.urls"
ASGI_APPLICATION = "ketaclinic.web.config.asgi.application"
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
                "ketaclinic.web.lib.context.clinic_context",
                "ketaclinic.web.home.context.nav_counts",
            ],
        },
    }
]

# Database: DATABASE_URL, else the embedded SQLite file in the data directory.
# Tests on PostgreSQL: KETACLINIC_TEST_POSTGRES=1 (optionally KETACLINIC_PG_TEST_DB for the test database name).
_default_url = f"sqlite:///{data_home() / DATABASE_FILE}"
if _bool("KETACLINIC_TEST_POSTGRES", False) and not os.environ.get("DATABASE_URL"):
    _default_url = "postgres://postgres@127.0.0.1:5432/test"
# Connections are reused instead of opened per request. Under ASGI every request runs in its own thread, so
# Django's persistent connections (CONN_MAX_AGE) would leave one open connection per finished request thread;
# PostgreSQL therefore uses a connection pool per process (psycopg_pool): KETACLINIC_DB_POOL_MAX connections
# at most per worker process (size PostgreSQL's max_connections or PgBouncer for workers x hosts x this).
# Behind PgBouncer in transaction mode, set KETACLINIC_DB_POOL_MAX=0 to turn the pool off (docs/operations.md).
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_url), conn_max_age=0)}
_POOL_MAX = int(os.environ.get("KETACLINIC_DB_POOL_MAX", "8"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and _POOL_MAX > 0:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": _POOL_MAX,
        "timeout": 30,  # seconds a request waits for a free connection before failing
        "max_idle": 300,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
if os.environ.get("KETACLINIC_PG_TEST_DB"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["KETACLINIC_PG_TEST_DB"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane); older Argon2 hashes are re-hashed on sign-in.
PASSWORD_HASHERS = ["ketaclinic.web.accounts.hashers.Argon2idHasher"]
if TESTING:
    # Argon2 with its production cost makes the suite slow; tests check the hasher choice separately.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["ketaclinic.web.accounts.backends.LockoutModelBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Login lockout: after this many consecutive failures the account is locked for this many minutes.
KETACLINIC_LOCKOUT_THRESHOLD = int(os.environ.get("KETACLINIC_LOCKOUT_THRESHOLD", "5"))
KETACLINIC_LOCKOUT_MINUTES = int(os.environ.get("KETACLINIC_LOCKOUT_MINUTES", "15"))

# Rate limits on password checks (sign-in and witness signatures): (attempts, window in seconds), per client
# address and per username, counted in the database so every server process shares them. 429 + Retry-After.
# The test suite signs the same accounts in hundreds of times from 127.0.0.1, so the limits are raised there
# (the rate-limit tests set them explicitly).
_ADDRESS_LIMIT = int(os.environ.get("KETACLINIC_RATE_ADDRESS", "10000" if TESTING else "30"))
_USERNAME_LIMIT = int(os.environ.get("KETACLINIC_RATE_USERNAME", "10000" if TESTING else "10"))
KETACLINIC_RATE_LIMITS = {
    "sign_in_address": (_ADDRESS_LIMIT, 60),
    "sign_in_username": (_USERNAME_LIMIT, 60),
    "witness_address": (_ADDRESS_LIMIT, 60),
    "witness_username": (_USERNAME_LIMIT, 60),
    "second_factor_address": (_ADDRESS_LIMIT, 60),
    "second_factor_username": (_USERNAME_LIMIT, 60),
}
# Two-factor sign-in (TOTP) is enforced for the roles that need it (accounts/twofactor.py). The synthetic demo
# accounts are exempt outside production, and the sign-in page says so.
KETACLINIC_2FA_ENFORCE = _bool("KETACLINIC_2FA_ENFORCE", True)
KETACLINIC_2FA_DEMO_EXEMPT = not PRODUCTION and _bool("KETACLINIC_2FA_DEMO_EXEMPT", True)

# Staff lifecycle: invitation and reset links expire after this many hours; API tokens after this many days
# unless the clinic sets a lifetime of its own.
KETACLINIC_SET_PASSWORD_HOURS = int(os.environ.get("KETACLINIC_SET_PASSWORD_HOURS", "72"))
KETACLINIC_API_TOKEN_DAYS = int(os.environ.get("KETACLINIC_API_TOKEN_DAYS", "90"))

# Request bodies: at most this many bytes (413 beyond, in the API's JSON error shape) and JSON nested at most
# this deep (400), checked before parsing. Django's own upload limit is kept in step.
KETACLINIC_MAX_BODY_BYTES = int(os.environ.get("KETACLINIC_MAX_BODY_BYTES", str(2_500_000)))
KETACLINIC_MAX_JSON_DEPTH = int(os.environ.get("KETACLINIC_MAX_JSON_DEPTH", "32"))
DATA_UPLOAD_MAX_MEMORY_SIZE = KETACLINIC_MAX_BODY_BYTES

# The API schema (/api/v1/openapi.json) and docs page need sign-in in production (anyone may read them elsewhere).
KETACLINIC_API_DOCS_REQUIRE_SIGN_IN = _bool("KETACLINIC_API_DOCS_REQUIRE_SIGN_IN", PRODUCTION)

# X-Forwarded-For is believed only from these proxy addresses or networks (comma-separated, e.g. 10.0.0.0/8).
KETACLINIC_TRUSTED_PROXIES = _list("KETACLINIC_TRUSTED_PROXIES", "")

# Sessions expire after this many minutes of inactivity and at browser close. The expiry is pushed forward by
# SessionIdleRefreshMiddleware at most once a minute (not a write on every request), so a session ends between
# (idle - 1 min) and idle after the last request: never later. Stored in the database, read through the cache.
SESSION_COOKIE_AGE = int(os.environ.get("KETACLINIC_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_REFRESH_EVERY_S = 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", data_home() / "static"))
STATIC_ROOT.mkdir(
    parents=True, exist_ok=True
)  # WhiteNoise warns about a missing root even when using finders
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", data_home() / "media"))

REDIS_URL = os.environ.get("REDIS_URL", "")
#: channels_redis waits up to this many seconds in a blocking pop for the next message of a socket.
CHANNEL_BLOCKING_READ_S = 5
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py's default socket timeout (5 s) equals the layer's blocking pop (5 s): an idle socket's
                # read then times out and its consumer dies. The read timeout must exceed the blocking pop.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": CHANNEL_BLOCKING_READ_S + 25,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ],
                # A board that falls behind drops the oldest pushes beyond this many, never blocks the sender.
                "capacity": 1000,
            },
        }
    }
    # Sessions are read through this cache, shared by every process and host.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "kc",
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 5},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

if PRODUCTION:
    SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", True)
    # Load balancers probe /healthz over plain HTTP: it answers without a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _bool("SECURE_HSTS_PRELOAD", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_CONTENT_TYPE_NOSNIFF = True
    # Preloading HSTS is a deliberate, hard-to-undo choice left to the operator (SECURE_HSTS_PRELOAD=1).
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
