"""Cost of the metrics filter per request, single-process vs multi-process collection.

Each mode runs in its own Python process (prometheus_client picks its mode at import):
a tiny WSGI app behind a real Router is called N times directly, then N times through
``MetricsFilter``; the difference per request is the filter's cost. Bounded (``--requests``),
in-process, no network. Usage::

    .venv/bin/python bench/metrics_bench.py [--requests 20000]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = r'''
import io, json, sys, time
import routes, webob
from glance.common import wsgi
from glance.middleware import metrics as metrics_filter

class Things(wsgi.Controller):
    def show(self, req, thing_id):
        return webob.Response(body=b'x' * 100)

mapper = routes.Mapper()
mapper.connect('/things/{thing_id}', controller=Things(), action='show',
               conditions={'method': ['GET']})
bare = wsgi.Router(mapper)
measured = metrics_filter.filter_factory({})(bare)

def run(app, n):
    started = time.perf_counter()
    for _ in range(n):
        environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/things/a', 'SERVER_NAME': 'h',
                   'SERVER_PORT': '80', 'wsgi.url_scheme': 'http',
                   'wsgi.input': io.BytesIO()}
        body = app(environ, lambda *args: None)
        for _block in body:
            pass
        getattr(body, 'close', lambda: None)()
    return (time.perf_counter() - started) / n

n = int(sys.argv[1])
run(bare, n // 10), run(measured, n // 10)
bare_s, measured_s = run(bare, n), run(measured, n)
print(json.dumps({'bare_us': bare_s * 1e6, 'measured_us': measured_s * 1e6}))
'''


def measure(requests, multiprocess_dir=None):
    """Run the child in one mode; returns its JSON result."""
    env = dict(os.environ)
    env.pop('PROMETHEUS_MULTIPROC_DIR', None)
    if multiprocess_dir:
        env['PROMETHEUS_MULTIPROC_DIR'] = multiprocess_dir
    out = subprocess.run([sys.executable, '-c', _CHILD, str(requests)], env=env,
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=20000)
    args = parser.parse_args()
    single = measure(args.requests)
    with tempfile.TemporaryDirectory(prefix='glance-metrics-bench-') as folder:
        multi = measure(args.requests, folder)
    for name, result in (('single-process', single), ('multi-process', multi)):
        cost = result['measured_us'] - result['bare_us']
        print('%-15s bare %6.1f us/request, with metrics %6.1f us/request: '
              '+%.1f us (x%.2f)' % (name, result['bare_us'], result['measured_us'], cost,
                                   result['measured_us'] / result['bare_us']))


if __name__ == '__main__':
    main()
