"""Gunicorn settings for ``gunicorn "console:create_app()"`` (read from the working directory).

Every value can be set from the environment, so each host of a deployment is configured
the same way as the app itself. See docs/deploy.md.
"""

import multiprocessing
import os

bind = (
    os.environ.get("GUNICORN_BIND")
    or f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
)
# Workers are processes; threads serve concurrent requests inside each one (the console
# mostly waits on the database, so a few threads per worker pay off).
workers = int(
    os.environ.get("GUNICORN_WORKERS")
    or os.environ.get("WEB_CONCURRENCY")
    or min(multiprocessing.cpu_count() * 2 + 1, 8)
)
# The app reads the worker count from WEB_CONCURRENCY: under production it refuses
# per-process rate-limit storage (no REDIS_URL) with more than one worker.
os.environ["WEB_CONCURRENCY"] = str(workers)
threads = int(os.environ.get("GUNICORN_THREADS") or 4)
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT") or 30)
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT") or 30)
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE") or 5)
# Restart workers now and then, so that a slow leak never takes a host down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS") or 5000)
max_requests_jitter = 500
# Access log to stdout, with the request id the console sends back.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# Trust X-Forwarded-* only from the load balancer's addresses.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server):
    """Tell the workers the final worker count (``-w`` on the command line wins)."""
    os.environ["WEB_CONCURRENCY"] = str(server.cfg.workers)
