"""Gunicorn's settings for EyeTagger in production: the Docker image and the topology test use this file.

Override with the environment: WEB_CONCURRENCY (worker processes), GUNICORN_THREADS,
GUNICORN_BIND, GUNICORN_TIMEOUT.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Threads, not sync workers: a sync worker busy streaming a long export stops answering the
# arbiter's heartbeat and is killed after `timeout`; a gthread worker keeps answering.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
# Longer than Nginx's upstream keepalive_timeout (60 s), so Nginx closes idle connections first
# and never sends a request on a connection Gunicorn is closing.
keepalive = 75
# Recycle workers now and then, so a slow leak never grows without bound.
max_requests = 2000
max_requests_jitter = 200

# Stateless: no files written at run time. The heartbeat files go to shared memory, and the
# control socket (which would be created in $HOME) is off.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
control_socket_disable = True

# Logs to stdout/stderr, the client address as Nginx saw it.
accesslog = "-"
errorlog = "-"
access_log_format = '%({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
