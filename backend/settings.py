"""Django settings for EyeTagger.

Every setting that differs between machines comes from the environment, or from
``env/*.env`` files when present (real environment variables win). With nothing
set, EyeTagger runs on the embedded default: SQLite at ``data/db.sqlite3``, the
datasets under ``data/``, DEBUG on and a secret key generated into ``data/``.

``EYETAGGER_ENV_FILES`` names the env files to read (a glob below the repository,
default ``env/*.env``; empty reads none). ``make run`` and ``make test`` set it empty,
so a checkout whose env/ was prepared for docker compose (``make env``) still runs and
tests on the embedded default.
"""

import os
import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_files = os.environ.get("EYETAGGER_ENV_FILES", "env/*.env")
for env_file in sorted(BASE_DIR.glob(_env_files)) if _env_files else []:
    env.read_env(env_file, overwrite=False)

DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "data")))
DEBUG = env.bool("DEBUG", default=True)


def _secret_key() -> str:
    """Return SECRET_KEY from the environment, or the one generated into data/ on the embedded default."""
    key = env("SECRET_KEY", default="")
    if key == "__secret_key__":
        raise ImproperlyConfigured("SECRET_KEY is still env/django.env.example's placeholder: run `make env`.")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see env/django.env.example).")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "backend.api.apps.EyeTaggerAdminConfig",  # Django admin, its sign-in rate-limited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "backend.api.middleware.request_body_limit_middleware",  # 411/413 before any body is read
    "csp.middleware.CSPMiddleware",
    "backend.static.StaticFilesMiddleware",  # WhiteNoise, serving files in place until collectstatic
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL, e.g. postgres://user:pass@127.0.0.1:5432/eyetagger.
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while one annotator saves; IMMEDIATE transactions take the
    # write lock up front, so concurrent saves wait for it instead of failing with
    # "database is locked" halfway through a transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Persistent connections, checked before reuse so a restarted Postgres is reconnected to.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements: psycopg binds the values on the server and prepares a statement once
    # its connection has run it five times, so PostgreSQL parses and plans each of a save's ten or
    # so statements once per connection, not once per request, and psycopg no longer quotes the
    # values into the SQL in Python: a save's CPU about a third less (docs/BENCHMARKS.md). Turn it
    # off behind a pooler in transaction mode (PgBouncer without max_prepared_statements).
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache holds the login throttle's counts, so in production it must be shared by every
# Gunicorn worker and replica: the database cache (table eyetagger_cache, created by migrate)
# by default, or any CACHE_URL (e.g. redis://redis:6379/0 with the redis package installed).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://" if DEBUG else "dbcache://eyetagger_cache")}
CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 100_000)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files: the SPA's build (dist/, Vite base "/static/") and Django's own (admin, API docs).
# Whitenoise serves them; behind Nginx, Nginx serves STATIC_ROOT directly. DJANGO_STATIC_HOST
# puts them on a CDN (e.g. https://d1234.cloudfront.net) that pulls from this server.
STATIC_HOST = env("DJANGO_STATIC_HOST", default="").rstrip("/")
STATIC_URL = f"{STATIC_HOST}/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
SPA_DIST_DIR = Path(env("SPA_DIST_DIR", default=str(BASE_DIR / "dist")))
STATICFILES_DIRS = [SPA_DIST_DIR] if SPA_DIST_DIR.is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Names with a content hash are cached for a year: Vite's assets/name-<hash>.js and Django's
# name.<12 hex>.css. Everything else gets Whitenoise's short max-age.
WHITENOISE_IMMUTABLE_FILE_TEST = r"(/assets/.+[.-][0-9A-Za-z_-]{8,}\.\w+|\.[0-9a-f]{12}\.\w+)$"

# Datasets: each dataset's folder lives below DATASET_ROOT and holds images/ and metadata.csv.
DATASET_ROOT = Path(env("DATASET_ROOT", default=str(DATA_DIR)))
# Where dataset zips uploaded in admin are unpacked: a writable folder, since DATASET_ROOT may be
# a read-only mount (it is in docker compose). Empty: DATASET_ROOT/uploads. Uploaded datasets'
# roots are "uploads/<name>" wherever this folder is (backend.api.files.dataset_folder).
DATASET_UPLOAD_ROOT = Path(env("DATASET_UPLOAD_ROOT")) if env("DATASET_UPLOAD_ROOT", default="") else None
# PNG copies of image files browsers cannot show as stored (TIFF, BMP, 16-bit, CMYK, EXIF-rotated
# JPEGs; backend/api/display_copies.py), made once each and kept here. Empty: a ".display-copies"
# folder in the dataset upload folder, which is writable wherever uploads are (a volume in docker
# compose, shared by every replica). Deleting it is harmless: copies are made again.
DISPLAY_COPY_ROOT = env("DISPLAY_COPY_ROOT", default="")
# Largest unpacked size of a dataset archive uploaded in admin.
DATASET_UPLOAD_MAX_BYTES = env.int("DATASET_UPLOAD_MAX_BYTES", default=4 * 1024**3)
# Uploads larger than 2.5 MB are spooled to this folder while they arrive (empty: the system's
# temporary folder). A dataset zip may be gigabytes: in docker compose it is a volume, not /tmp's
# small tmpfs. A failure to write there is shown on the form, not a server error.
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", default="") or None
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "backend.api.upload_handlers.SpoolingUploadHandler",
]

# Limits on what a client may send. Documented in docs/strokes.md ("Limits").
ANNOTATION_MAX_BODY_BYTES = env.int("ANNOTATION_MAX_BODY_BYTES", default=16 * 1024 * 1024)
# DRF reads a JSON body through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MB by default) with a bare 400: an annotation within the limits above (250,000 points is
# about 7 MB) was refused. Twice the annotation limit, as Nginx's client_max_body_size, leaves
# the annotation parser to answer bodies past its own limit with its clearer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * ANNOTATION_MAX_BODY_BYTES

# Tokens made by signing in (POST /api/auth/token/login/) expire after this many days; 0: never.
# Tokens made in admin or by create_token have their own expiry, or none.
SIGN_IN_TOKEN_DAYS = env.int("SIGN_IN_TOKEN_DAYS", default=0)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so anonymous requests get 401 with a WWW-Authenticate header.
        "backend.api.authentication.ApiTokenAuthentication",  # "Token <key>", one token per sign-in or script
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["backend.api.permissions.HasRole"],
    "DEFAULT_PARSER_CLASSES": ["backend.api.parsers.LimitedJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "backend.api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("LOGIN_THROTTLE_RATE", default="10/min"),
        # New participants enrolled by a study link, per client address (a lab behind one address
        # enrols a class at once; a script enrolling thousands is refused).
        "enrol": env("STUDY_ENROL_THROTTLE_RATE", default="30/min"),
    },
    # Behind Nginx every request comes from Nginx's address: count the client's address that
    # Nginx appends to X-Forwarded-For instead (set NUM_PROXIES=1; only when clients cannot
    # reach Gunicorn directly, or they could forge the header).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=None),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "EyeTagger API",
    "DESCRIPTION": "Free-hand image annotation: datasets, images, and annotations as strokes documents.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN: it works offline
    # and under the Content Security Policy below.
    # Several models have a "status": name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "StudyStatusEnum": "backend.api.study_models.Study.Status",
        "ParticipantStatusEnum": "backend.api.study_models.Participant.Status",
        "TrialStatusEnum": "backend.api.study_models.Trial.Status",
        "AnnotationStatusEnum": "backend.api.models.Annotation.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The error shape, and the errors each operation may answer (401, 403, 404...).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "backend.api.schema.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Everything to stdout: containers and process managers collect it from there.
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Behind Nginx, set to its internal location (e.g. /protected-datasets/) so Nginx sends
# image files after Django has authorized the request (X-Accel-Redirect).
IMAGES_ACCEL_REDIRECT = env("IMAGES_ACCEL_REDIRECT", default="")

# Dataset images on S3-compatible object storage instead of DATASET_ROOT (see docs/operations.md,
# "Object storage"): set DATASETS_S3_BUCKET. Keys are <prefix>/<dataset folder>/<image path>, the same
# layout as below DATASET_ROOT. Credentials come from the usual AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY (or an instance role). Image files are then read through the storage
# API and IMAGES_ACCEL_REDIRECT is not used.
DATASETS_S3_BUCKET = env("DATASETS_S3_BUCKET", default="")
if DATASETS_S3_BUCKET:
    from botocore.config import Config as _BotoConfig

    STORAGES["datasets"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": DATASETS_S3_BUCKET,
            "location": env("DATASETS_S3_PREFIX", default=""),
            "endpoint_url": env("DATASETS_S3_ENDPOINT_URL", default=None),  # MinIO, Ceph, moto...
            "region_name": env("DATASETS_S3_REGION", default=None),
            "default_acl": None,
            "file_overwrite": False,
            # A store that does not answer fails the request in seconds (503), not minutes.
            "client_config": _BotoConfig(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # "path" for MinIO and other stores without a wildcard DNS name per bucket.
                s3={"addressing_style": env("DATASETS_S3_ADDRESSING_STYLE", default="auto")},
            ),
        },
    }

# Production (DEBUG off): HTTPS only, behind Nginx terminating TLS. Each can be overridden by
# the variable of the same name, e.g. to try a new certificate with a short SECURE_HSTS_SECONDS.
# Nginx sets X-Forwarded-Proto; Django trusts it only when told (SECURE_PROXY_SSL_HEADER=
# HTTP_X_FORWARDED_PROTO,https), since a client reaching Gunicorn directly could forge it.
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be 'HEADER,value', e.g. HTTP_X_FORWARDED_PROTO,https.")
    SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]  # container health checks speak plain HTTP from inside
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)

# Content Security Policy, on every response (django-csp). Scripts only from this origin (and
# the static host): no inline scripts, no eval. Styles allow 'unsafe-inline' for Django admin's
# and Swagger UI's inline <style> blocks and style attributes; style injection cannot run code.
# Images may be blob:/data: URLs (the canvas), never other sites.
_static_origin = [STATIC_HOST] if STATIC_HOST else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, *_static_origin],
        "style-src": [SELF, UNSAFE_INLINE, *_static_origin],
        "img-src": [SELF, "data:", "blob:", *_static_origin],
        "font-src": [SELF, "data:", *_static_origin],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
