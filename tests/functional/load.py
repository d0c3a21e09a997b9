"""A bounded load of uploads and downloads through glance-api, for fault tests.

:class:`Load` runs a few client threads against one base URL (a balancer's front
end). Each client alternates uploads of small distinct images and byte-exact
downloads of images uploaded so far, records every operation with its start and end
time and outcome, and stops after ``max_ops`` operations or when told to. Faults are
injected inside :meth:`Load.fault`, which records when they happened, so a test can
tell the operations in flight during a fault from those that came after.
"""

import contextlib
import dataclasses
import hashlib
import http.client
import threading
import time

from tests.data import random_bytes
from tests.functional.test_api_images import USER, Api, wait_until

#: Bytes of each uploaded image.
IMAGE_SIZE = 96 * 1024


@dataclasses.dataclass
class Operation:
    """One upload or download: when it ran and how it ended."""

    kind: str
    start: float
    end: float = 0.0
    status: int | None = None
    error: str | None = None
    image_id: str | None = None
    retry_after: str | None = None

    @property
    def ok(self):
        """True when it did what it was asked (201 upload, byte-exact 200 download)."""
        return self.error is None and self.status in (200, 201)

    def overlaps(self, window):
        """True when this operation was in flight at some moment of ``window``."""
        return self.start <= window[1] and self.end >= window[0]


class Load:
    """Client threads uploading and downloading through ``url``.

    :param url: glance-api's (front end's) base URL.
    :param clients: number of client threads.
    :param max_ops: most operations per client (the load is bounded).
    """

    def __init__(self, url, clients=4, max_ops=200):
        self.api = Api(url)
        self.clients = clients
        self.max_ops = max_ops
        self.operations = []
        #: ``{image id: sha256 of its bytes}`` of every upload answered 201.
        self.uploaded = {}
        self.faults = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = []

    def __enter__(self):
        for index in range(self.clients):
            thread = threading.Thread(target=self._client, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in self._threads), 'a client hung'

    def _client(self, index):
        for number in range(self.max_ops):
            if self._stop.is_set():
                return
            with self._lock:
                known = list(self.uploaded)
            if number % 2 == 0 or not known:
                self._upload(random_bytes(IMAGE_SIZE, seed=index * 100000 + number))
            else:
                self._download(known[(index + number) % len(known)])

    def _record(self, operation):
        operation.end = time.monotonic()
        with self._lock:
            self.operations.append(operation)

    def _upload(self, data):
        operation = Operation('upload', time.monotonic())
        try:
            resp = self.api.upload(data, name='load')
            operation.status = resp.status
            operation.retry_after = resp.headers.get('retry-after')
            if resp.status == 201:
                operation.image_id = resp.json()['image']['id']
                with self._lock:
                    self.uploaded[operation.image_id] = hashlib.sha256(data).hexdigest()
        except (OSError, http.client.HTTPException) as err:
            operation.error = type(err).__name__
        self._record(operation)

    def _download(self, image_id):
        operation = Operation('download', time.monotonic(), image_id=image_id)
        try:
            # A body cut short of its Content-Length raises IncompleteRead.
            resp = self.api.request('GET', '/images/' + image_id, USER)
            operation.status = resp.status
            operation.retry_after = resp.headers.get('retry-after')
            if resp.status == 200 and hashlib.sha256(resp.body).hexdigest() != \
                    self.uploaded[image_id]:
                operation.error = 'wrong bytes'
        except (OSError, http.client.HTTPException) as err:
            operation.error = type(err).__name__
        self._record(operation)

    def wait_for(self, count, what='operations', timeout=60):
        """Wait until ``count`` more operations have ended than now."""
        target = len(self.operations) + count
        wait_until(lambda: len(self.operations) >= target, '%d %s' % (count, what),
                   timeout)

    @contextlib.contextmanager
    def fault(self, name):
        """Record the time window of the fault injected in the ``with`` block."""
        start = time.monotonic()
        yield
        self.faults.append((name, (start, time.monotonic())))

    def failures(self):
        """The operations that did not succeed."""
        return [operation for operation in self.operations if not operation.ok]

    def failures_outside_faults(self):
        """Failed operations that were in flight during no fault."""
        return [operation for operation in self.failures()
                if not any(operation.overlaps(window) for _, window in self.faults)]

    def summary(self):
        """E.g. ``'3 of 412 failed (in flight: 3)'``, for test output and reports."""
        failures = self.failures()
        return '%d of %d failed (%d outside the faults): %s' % (
            len(failures), len(self.operations), len(self.failures_outside_faults()),
            sorted({(op.kind, op.status, op.error) for op in failures}, key=str))

    def check_every_upload_downloads(self, url=None):
        """Every image whose upload was answered 201 downloads byte-exact now."""
        api = Api(url) if url else self.api
        for image_id, digest in self.uploaded.items():
            status, body, error = api.read_streaming('/images/' + image_id, USER)
            assert (status, error) == (200, None), (image_id, status, error)
            assert hashlib.sha256(body).hexdigest() == digest, image_id
