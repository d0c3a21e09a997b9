"""Tiny paste apps that prove the daemons serve any WSGI app (used by test_server.py)."""

import time


def slow_app_factory(global_conf, **local_conf):
    """An app that streams ``blocks`` blocks of 1 KiB, sleeping ``delay`` s before each."""
    blocks = int(local_conf.get('blocks', 10))
    delay = float(local_conf.get('delay', 0.1))

    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(blocks * 1024))])

        def body():
            for _ in range(blocks):
                time.sleep(delay)
                yield b'x' * 1024
        return body()
    return app
