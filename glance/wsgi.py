"""WSGI entry points, for running the daemons' apps under gunicorn or another server.

The built-in server (``bin/glance-api``, ``bin/glance-registry``: eventlet) stays the
default. Any other WSGI server can load the same paste pipelines from here::

    GLANCE_CONFIG_FILE=/etc/glance/glance-api.conf \\
        gunicorn -c etc/gunicorn.conf.py --bind 127.0.0.1:9292 glance.wsgi:api

``glance.wsgi:api`` is glance-api's app and ``glance.wsgi:registry`` glance-registry's.
Each is built on first access in the process that asks (a worker), from:

==================== ======================================================
variable             meaning
==================== ======================================================
GLANCE_CONFIG_FILE   the daemon's .conf (default: found as the daemon finds
                     it, glance-api.conf or glance-registry.conf)
==================== ======================================================

The conf's ``paste_file`` and ``pipeline`` options choose the pipeline as for the
daemon; ``bind_host``/``bind_port`` are the WSGI server's business, but
glance-registry builds image URIs from them unless ``public_endpoint`` is set, so keep
them equal to the server's bind address.
"""

import os
import warnings

from glance.common import config, log, wsgi

_PROGS = {'api': 'glance-api', 'registry': 'glance-registry'}


def load_app(prog):
    """Build a daemon's paste app from its conf, with its logging set up.

    :param prog: ``glance-api`` or ``glance-registry``.
    :returns: the WSGI app.
    :raises ConfigError: for a missing conf or a bad option.
    """
    conf_path = os.environ.get('GLANCE_CONFIG_FILE') or config.find_config_file(
        prog + '.conf')
    conf = config.load_config_file(conf_path)
    log.setup_logging(conf)
    opts = config.Options(conf)
    paste_file = opts.get_path('paste_file', None) or os.path.join(
        os.path.dirname(conf_path), prog + '-paste.ini')
    with warnings.catch_warnings():
        # eventlet (imported by the api, unused as a server here) warns on import
        # about its maintenance mode; operators can't act on it.
        warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
        return wsgi.load_paste_app(paste_file, opts.get_str('pipeline', prog), conf)


def __getattr__(name):
    # PEP 562: the app is built when the server looks it up, in its worker.
    if name not in _PROGS:
        raise AttributeError('module %r has no attribute %r' % (__name__, name))
    app = globals()[name] = load_app(_PROGS[name])
    return app
