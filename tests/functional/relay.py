"""A loopback TCP relay that breaks its connections part way through a response.

Functional tests put it between a store and the real service behind it (Swift, S3,
nginx) to make the service's connection die in the middle of a body, on demand: a
healthy real service never does that by itself, and stopping the whole service per
test would be slow. The relay forwards bytes unchanged (TLS included), so the client
and the service see each other as they would directly. Example::

    with Relay(swift_service.ports['proxy']) as relay:
        store = S3Store(swift_service.s3_options(endpoint=relay.url))
        relay.break_after(32 * 1024)
        reader = store.get(location)     # dies after about 32 KiB

Threads, one pair per connection; everything binds to 127.0.0.1 and is closed by
:meth:`Relay.stop`.
"""

import socket
import struct
import threading

_BLOCK = 64 * 1024


class Relay:
    """Forward connections from a free loopback port to ``127.0.0.1:target_port``.

    :param target_port: the service's port.
    """

    def __init__(self, target_port):
        self.target_port = target_port
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._budget = None
        self._sockets = set()
        self._threads = []
        self._stopped = False
        self._spawn(self._accept)

    @property
    def url(self):
        """``http://127.0.0.1:<port>`` of the relay."""
        return 'http://127.0.0.1:%d' % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def break_after(self, count):
        """Reset the connection that carries the next ``count`` bytes from the service.

        The bytes up to ``count`` are delivered; then both sides of that connection
        are reset (RST, no orderly close) and the relay forwards normally again.
        """
        with self._lock:
            self._budget = count

    def stop(self):
        """Close the listener and every connection; wait for the threads."""
        self._stopped = True
        _reset(self._listener)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _reset(sock)
        for thread in self._threads:
            thread.join(10)

    def _spawn(self, target, *args):
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self):
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(('127.0.0.1', self.target_port), 10)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            self._spawn(self._pump, client, upstream, False)
            self._spawn(self._pump, upstream, client, True)

    def _pump(self, source, sink, from_service):
        try:
            while True:
                data = source.recv(_BLOCK)
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                if from_service and self._forward_within_budget(data, sink, source):
                    return
                if not from_service:
                    sink.sendall(data)
        except OSError:
            _reset(source)
            _reset(sink)

    def _forward_within_budget(self, data, sink, source):
        """Send ``data`` from the service, cut to the armed budget; True once reset."""
        with self._lock:
            budget = self._budget
            if budget is not None:
                self._budget = None if len(data) >= budget else budget - len(data)
        if budget is None or len(data) < budget:
            sink.sendall(data)
            return False
        sink.sendall(data[:budget])
        _reset(sink)
        _reset(source)
        return True


def _reset(sock):
    """Close ``sock`` with a TCP reset (SO_LINGER 0), ignoring errors.

    Shutting the reading side down first wakes a thread blocked in ``recv`` or
    ``accept`` on it (closing alone would not).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    sock.close()
