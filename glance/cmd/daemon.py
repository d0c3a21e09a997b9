"""Shared startup of the two daemons: options, conf, logging, paste app, server."""

import argparse
import logging
import os
import sys
import warnings

with warnings.catch_warnings():
    # eventlet warns about its own maintenance mode on import; operators can't act on it.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    import eventlet

from glance.common import config, exception, log, metrics_files, prefork, server, wsgi

LOG = logging.getLogger(__name__)


def parse_args(prog, argv):
    """Parse the daemon command line."""
    parser = argparse.ArgumentParser(prog=prog, description='Run the %s daemon.' % prog)
    parser.add_argument('--config-file', help='the daemon conf file (default: %s.conf '
                        'in ., ./etc, <prefix>/etc/glance or /etc/glance)' % prog)
    parser.add_argument('--paste-file', help='paste.deploy ini (default: paste_file option '
                        'or %s-paste.ini beside the conf file)' % prog)
    parser.add_argument('--pipeline', default=None,
                        help='app or pipeline name in the paste ini (default: %s)' % prog)
    parser.add_argument('--bind-host', help='override bind_host')
    parser.add_argument('--bind-port', type=int, help='override bind_port')
    return parser.parse_args(argv)


def _read_conf(prog, args):
    """Read the daemon's conf file with the command-line overrides applied."""
    conf_path = args.config_file or config.find_config_file(prog + '.conf')
    conf = config.load_config_file(conf_path)
    if args.bind_host:
        conf['bind_host'] = args.bind_host
    if args.bind_port is not None:
        conf['bind_port'] = str(args.bind_port)
    log.setup_logging(conf)
    return conf, conf_path


def _load_app(prog, args, conf, conf_path):
    """Load the paste pipeline named by the command line or the conf."""
    opts = config.Options(conf)
    paste_file = args.paste_file or opts.get_path('paste_file', None) or os.path.join(
        os.path.dirname(conf_path), prog + '-paste.ini')
    pipeline = args.pipeline or opts.get_str('pipeline', prog)
    return wsgi.load_paste_app(paste_file, pipeline, conf)


def _workers(conf):
    """The ``workers`` option: processes to fork (0 or 1: serve in this process).

    :raises ConfigError: for more than one worker with ``image_cache_dir`` set: the
        image cache (its index, fills and file lock) belongs to one process, and
        forked workers would share the directory behind each other's back.
    """
    opts = config.Options(conf)
    workers = opts.get_int('workers', os.cpu_count() or 1, minimum=0)
    if workers > 1 and opts.get_str('image_cache_dir'):
        raise exception.ConfigError('workers', 'DEFAULT', 'the image cache '
                                    '(image_cache_dir) belongs to one process: set '
                                    'workers = 1, or run one glance-api per cache '
                                    'directory')
    return workers


def run(prog, default_port, argv=None):
    """Load the daemon's conf and paste pipeline and serve until SIGTERM.

    With ``workers`` above 1 the process becomes a pre-fork master
    (:mod:`glance.common.prefork`) that also reloads on SIGHUP.

    :param prog: daemon name (``glance-registry`` or ``glance-api``); names the default
        conf, paste ini and pipeline.
    :param default_port: port used when ``bind_port`` is not configured.
    :returns: process exit code.
    """
    eventlet.monkey_patch()
    # Before the app (and prometheus_client) loads: metrics shared by all workers.
    metrics_files.prepare()
    args = parse_args(prog, argv)
    try:
        conf, conf_path = _read_conf(prog, args)
        workers = _workers(conf)
        srv = server.server_from_conf(None, conf, default_port)
        srv.bind()
        # Bind before loading the app so that a port of 0 is known to the app (the
        # registry builds image URIs from it).
        conf['bind_port'] = str(srv.port)
        srv.app = _load_app(prog, args, conf, conf_path)
    except exception.ConfigError as err:
        print('%s: %s' % (prog, err), file=sys.stderr)
        return 2
    except OSError as err:
        print('%s: cannot start: %s' % (prog, err), file=sys.stderr)
        return 1
    host = '[%s]' % srv.host if ':' in srv.host else srv.host
    LOG.info('%s listening on %s://%s:%d', prog, srv.scheme, host, srv.port)
    print('%s listening on %s://%s:%d' % (prog, srv.scheme, host, srv.port),
          file=sys.stderr, flush=True)
    if workers <= 1:
        srv.serve_forever()
        return 0

    def reload():
        new_conf, new_path = _read_conf(prog, args)
        # The socket stays bound: the app must keep describing its real address.
        new_conf['bind_host'], new_conf['bind_port'] = srv.host, str(srv.port)
        workers = _workers(new_conf)        # refused before the app opens anything
        return _load_app(prog, args, new_conf, new_path), workers

    prefork.Master(srv, workers, reload).run()
    return 0
