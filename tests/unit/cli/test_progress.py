"""The progress bar: drawn on terminals only, with size, rate and time left."""

import io

from glance.cli import progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_shows_percentage_sizes_rate_and_eta():
    clock = Clock()
    bar = progress.ProgressBar(Terminal(), 'Downloading', clock)
    bar(0, 4 * 1024 * 1024)
    clock.now += 2
    bar(1024 * 1024, 4 * 1024 * 1024)
    assert bar.line(clock.now) == ('Downloading   25% [######                  ]  '
                                   '1.0 MiB / 4.0 MiB  512.0 KiB/s  ETA 0:06')


def test_rate_counts_only_this_sessions_bytes_when_resuming():
    clock = Clock()
    bar = progress.ProgressBar(Terminal(), 'Fetching', clock)
    bar(3000000, 4000000)
    clock.now += 1
    bar(3500000, 4000000)
    assert '488.3 KiB/s' in bar.line(clock.now) and 'ETA 0:01' in bar.line(clock.now)


def test_unknown_total_shows_bytes_and_rate_only():
    clock = Clock()
    bar = progress.ProgressBar(Terminal(), 'Uploading', clock)
    bar(0, None)
    clock.now += 4
    bar(4096, None)
    assert bar.line(clock.now) == 'Uploading  4.0 KiB  1.0 KiB/s'


def test_redraws_are_throttled_but_the_end_is_always_drawn():
    clock = Clock()
    stream = Terminal()
    bar = progress.ProgressBar(stream, 'X', clock)
    for done in range(0, 100, 10):
        bar(done, 100)
    assert stream.getvalue().count('\r') == 1
    bar(100, 100)
    bar.finish()
    text = stream.getvalue()
    assert text.count('\r') == 3 and text.endswith('\n')
    assert '100% [########################]' in text and 'in 0:00' in text


def test_finish_without_any_progress_prints_nothing():
    stream = Terminal()
    progress.ProgressBar(stream, 'X').finish()
    assert stream.getvalue() == ''


def test_no_bar_on_a_pipe_or_file():
    assert progress.for_stream(io.StringIO(), 'X') is None
    assert isinstance(progress.for_stream(Terminal(), 'X'), progress.ProgressBar)


def test_long_durations_show_hours():
    assert progress._duration(3 * 3600 + 62) == '3:01:02'
    assert progress._duration(61) == '1:01'
