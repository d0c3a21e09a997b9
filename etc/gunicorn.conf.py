# gunicorn settings for glance-api and glance-registry (threads worker). Use with
#   GLANCE_CONFIG_FILE=/etc/glance/glance-api.conf \
#       gunicorn -c /etc/glance/gunicorn.conf.py --bind 127.0.0.1:9292 glance.wsgi:api
# Anything here can be overridden on gunicorn's command line.
from glance.common import metrics_files

# A thread per request: image streams block in socket and store reads.
worker_class = 'gthread'
# Processes; each serves `threads` requests at a time.
workers = 2
threads = 16
# gunicorn's default drops headers with "_" silently; refuse them instead (400), so a
# client writing x-image-meta-disk_format learns to write x-image-meta-disk-format.
header_map = 'refuse'
# Let downloads and uploads run: the workers' heartbeat is separate from requests.
graceful_timeout = 60


def on_starting(server):
    """Before the workers fork: one directory for every worker's metric files."""
    metrics_files.prepare()


def child_exit(server, worker):
    """Drop the in-flight gauges of a worker that exited."""
    metrics_files.worker_exited(worker.pid)
