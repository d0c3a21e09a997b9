"""A one-line transfer progress bar: percentage, bytes, rate and time left.

It is drawn only on a terminal: :func:`for_stream` returns None for a pipe or a file,
so scripts and logs never see carriage returns. The bar is a callable taking
``(bytes_so_far, total_or_None)``, the progress protocol of
:mod:`glance.agent.fetch` and :class:`glance.client.images.ImageClient`.
"""

import time

from glance.cli.output import human_size

BAR_WIDTH = 24
#: Least seconds between two redraws; the final state is always drawn.
REDRAW_INTERVAL = 0.1


def _duration(seconds):
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return '%d:%02d:%02d' % (hours, rest // 60, rest % 60) if hours else (
        '%d:%02d' % divmod(rest, 60))


class ProgressBar:
    """Redraw one line of ``stream`` as bytes move.

    The rate counts only this session's bytes, so a resumed download shows the
    real speed and a truthful time left.

    :param stream: a text stream on a terminal (usually ``sys.stderr``).
    :param label: what moves, e.g. ``Downloading 3f2c...``.
    :param clock: a monotonic clock in seconds (replaceable in tests).
    """

    def __init__(self, stream, label, clock=time.monotonic):
        self.stream = stream
        self.label = label
        self.clock = clock
        self._start = None
        self._first = 0
        self._last_draw = None
        self._width = 0
        self._state = (0, None)

    def __call__(self, done, total):
        """Record progress and redraw when due (or when the transfer is complete)."""
        now = self.clock()
        if self._start is None:
            self._start, self._first = now, done
        self._state = (done, total)
        if (self._last_draw is None or now - self._last_draw >= REDRAW_INTERVAL
                or done == total):
            self._draw(now)

    def line(self, now):
        """The text of the bar at time ``now``."""
        done, total = self._state
        elapsed = now - self._start if self._start is not None else 0
        rate = (done - self._first) / elapsed if elapsed > 0 else None
        parts = [self.label]
        if total:
            fraction = min(done / total, 1.0)
            filled = int(fraction * BAR_WIDTH)
            parts.append('%3d%% [%s%s]' % (fraction * 100, '#' * filled,
                                           ' ' * (BAR_WIDTH - filled)))
            parts.append('%s / %s' % (human_size(done), human_size(total)))
        else:
            parts.append(human_size(done))
        parts.append('%s/s' % human_size(int(rate)) if rate is not None else '-/s')
        if total and done >= total:
            parts.append('in %s' % _duration(elapsed))
        elif total and rate:
            parts.append('ETA %s' % _duration((total - done) / rate))
        return '  '.join(parts)

    def _draw(self, now):
        self._last_draw = now
        text = self.line(now)
        self.stream.write('\r' + text + ' ' * max(self._width - len(text), 0))
        self.stream.flush()
        self._width = len(text)

    def finish(self):
        """Draw the final state and end the line (also after a failure)."""
        if self._start is not None:
            self._draw(self.clock())
            self.stream.write('\n')
            self.stream.flush()


def for_stream(stream, label):
    """Return a :class:`ProgressBar` on ``stream`` if it is a terminal, else None.

    :param stream: usually ``sys.stderr``.
    :param label: what moves.
    """
    isatty = getattr(stream, 'isatty', None)
    return ProgressBar(stream, label) if isatty is not None and isatty() else None
