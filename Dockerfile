# EyeTagger's images, from one multi-stage build (docker-compose.yaml builds both):
#   web    the default (last) stage: Gunicorn serving Django and the built SPA, as a non-root user
#   nginx  Nginx with deploy/nginx/eyetagger.conf and the collected static files
# Build tools (Node, compilers, pipenv) stay in the build stages; neither image carries them.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NGINX_IMAGE=nginx:1.28-bookworm

# ---- The SPA: `npm ci && npm run build` writes dist/ (Vite, base "/static/").
FROM ${NODE_IMAGE} AS spa
WORKDIR /spa
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY index.html vite.config.js ./
COPY build ./build
COPY public ./public
COPY src ./src
RUN npm run build

# ---- Python packages, exactly as locked in Pipfile.lock (hashes checked), into /venv.
FROM ${PYTHON_IMAGE} AS python-build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Compilers only for a package with no wheel for this platform; this stage is thrown away.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential=12.9 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
COPY Pipfile Pipfile.lock ./
RUN python -m pip install pipenv==2026.10.3 \
    && pipenv requirements --hash > requirements.txt \
    && python -m venv /venv \
    && /venv/bin/pip install --require-hashes -r requirements.txt

# ---- The application: code, packages, the SPA, and the static files collected at build time.
FROM ${PYTHON_IMAGE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=backend.settings \
    DEBUG=false \
    DATASET_UPLOAD_ROOT=/uploads \
    FILE_UPLOAD_TEMP_DIR=/upload-temp
# The only folders the running user writes: uploaded datasets and uploads arriving. Volumes in
# docker-compose.yaml; a new volume takes these folders' owner.
RUN groupadd --system --gid 10001 eyetagger \
    && useradd --system --uid 10001 --gid eyetagger --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin eyetagger \
    && mkdir /uploads /upload-temp \
    && chown eyetagger:eyetagger /uploads /upload-temp
COPY --from=python-build /venv /venv
WORKDIR /app
COPY manage.py pyproject.toml ./
COPY backend ./backend
COPY deploy/docker-entrypoint.sh deploy/gunicorn.conf.py deploy/healthcheck.py ./deploy/
COPY --from=spa /spa/dist ./dist
# No database and no secrets at build time: the key below exists only for this command, and
# DEBUG off means nothing is written into data/. Compiling now means nothing is written later.
RUN SECRET_KEY=collectstatic-only-not-used-at-run-time python manage.py collectstatic --no-input --verbosity 0 \
    && python -m compileall -q backend
# Code and static files belong to root: the running user can read them, not change them.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]
ENTRYPOINT ["/app/deploy/docker-entrypoint.sh"]
CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py", "backend.wsgi"]

# ---- Nginx: TLS, static files, X-Accel image delivery, the proxy to web.
FROM ${NGINX_IMAGE} AS nginx
# The official image fills ${...} in /etc/nginx/templates/*.template from the environment at start.
COPY deploy/nginx/eyetagger.conf /etc/nginx/templates/default.conf.template
COPY --from=app /app/staticfiles /srv/static
ENV EYETAGGER_UPSTREAM=web:8000 \
    NGINX_HTTP_PORT=80 \
    NGINX_HTTPS_PORT=443 \
    NGINX_TLS_CERTIFICATE=/etc/nginx/tls/fullchain.pem \
    NGINX_TLS_CERTIFICATE_KEY=/etc/nginx/tls/privkey.pem \
    NGINX_STATIC_ROOT=/srv/static \
    NGINX_DATASET_ROOT=/datasets \
    NGINX_UPLOAD_ROOT=/uploads
# Healthy when both servers answer: plain HTTP, and HTTPS with the certificate loaded and the
# static files in place (curl comes with the official Debian-based image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "curl -fsS -o /dev/null http://127.0.0.1:${NGINX_HTTP_PORT}/nginx-health && curl -fsSk -o /dev/null https://127.0.0.1:${NGINX_HTTPS_PORT}/static/admin/css/base.css"]

# ---- The default target.
FROM app AS web
