"""The store interface that Teller's backends implement, and what they share.

A store maps one or more URI schemes (``file``, ``http``, ``swift``, ``s3``...) onto a
client library. Teller splits every image into objects, records each object's
*location* and *ETag* in Parallax at upload time, and at download time checks each
object with :meth:`Store.head` before streaming it with :meth:`Store.get`.

This module holds the abstract :class:`Store`, the :class:`Location` and
:class:`ObjectInfo` value types, the store exception family, :func:`normalize_etag`
and :class:`ReadIterator`, the one streaming loop behind every ``get``.
"""

import abc
import dataclasses
import datetime
import email.utils
import logging
import urllib.parse

from glance.common import config
from glance.common import exception

LOG = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 1024 * 1024


class StoreError(exception.GlanceException):
    """A store failed to do what was asked; names the store and the object path.

    Store exceptions carry no HTTP meaning; ``glance.common.wsgi.EXCEPTION_STATUS``
    maps each of them to one status, wherever it surfaces.
    """

    template = 'Store %(store)s failed on %(path)s: %(reason)s'


class ObjectNotFound(StoreError):
    """The object does not exist (for Teller, a missing chunk is an upstream error)."""

    template = 'Object %(path)s not found in store %(store)s'


class StoreUnavailable(StoreError):
    """The storage service cannot be reached or asks us to back off."""

    template = 'Store %(store)s unavailable for %(path)s: %(reason)s'


class StoreIOError(StoreError):
    """A read or write broke off part way, or moved a different number of bytes."""

    template = 'I/O error in store %(store)s on %(path)s: %(reason)s'


class StoreReadOnly(StoreError):
    """Writing or deleting through a read-only store (http, https)."""

    template = 'Store %(store)s is read-only: cannot %(operation)s %(path)s'


class BadLocation(exception.GlanceException):
    """A location that cannot be parsed, is refused, or that no enabled store serves.

    It is not a :class:`StoreError` (no store failed): the same location is as bad
    when it is registered, downloaded or deleted.
    """

    template = 'Invalid store location: %(reason)s'


class BadStoreConfiguration(exception.ConfigError):
    """An option of a ``[store:<name>]`` section is missing or invalid.

    :param store: the store name (the entry-point name, e.g. ``swift``).
    :param option: the option name.
    :param why: a human-readable reason; never the option's value if it is a secret.
    """

    def __init__(self, store, option, why):
        self.store = store
        super().__init__(option, 'store:%s' % store, why)


def normalize_etag(value):
    """Return an ETag in the one form Teller stores and compares.

    Strips whitespace, a weak ``W/`` prefix and surrounding double quotes, and
    lower-cases the rest, so Swift's bare md5, S3's quoted ``"md5-N"`` and an HTTP
    server's ``W/"..."`` compare as opaque strings.

    :param value: the ETag as a server sent it, or None.
    :returns: the normalised ETag, or None when ``value`` is None or empty.
    """
    if value is None:
        return None
    text = value.strip()
    if text[:2].upper() == 'W/':
        text = text[2:]
    text = text.strip('"').lower()
    return text or None


def parse_http_date(value):
    """Parse an HTTP date (``Last-Modified``) into an aware datetime.

    :param value: the header value, or None.
    :returns: a :class:`datetime.datetime`, or None if absent or unparsable.
    """
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def range_header(offset, length):
    """Return the HTTP ``Range`` value for a read, or None for a whole-object read.

    :param offset: first byte (>= 0).
    :param length: number of bytes (> 0), or None for the rest of the object.
    :returns: e.g. ``'bytes=10-19'`` or ``'bytes=10-'``; None when offset is 0 and
        length is None.
    """
    if not offset and length is None:
        return None
    return 'bytes=%d-%s' % (offset, '' if length is None else offset + length - 1)


@dataclasses.dataclass(frozen=True)
class Location:
    """Where one object lives, e.g. ``swift://glance/<image>-00000``.

    Built with :meth:`parse`; ``str()`` gives the URI back. ``path`` and ``query``
    stay percent-encoded as in the URI; a store unquotes them when it maps them to a
    file or object name. A location never carries credentials.
    """

    scheme: str
    netloc: str
    path: str
    query: str = ''

    @classmethod
    def parse(cls, value):
        """Parse a location URI.

        :param value: a URI string, or a :class:`Location` (returned as is).
        :returns: a :class:`Location` with a lower-case scheme.
        :raises BadLocation: if it is not a string, has no scheme, has a fragment, or
            carries ``user:password@`` (the message never repeats the URI, which may
            hold a secret).
        """
        if isinstance(value, cls):
            return value
        if not isinstance(value, str):
            raise BadLocation(reason='expected a URI string, got %s' % type(value).__name__)
        try:
            parts = urllib.parse.urlsplit(value.strip())
        except ValueError:
            raise BadLocation(reason='not a valid URI') from None
        if not parts.scheme:
            raise BadLocation(reason='no scheme in location')
        if '@' in parts.netloc:
            raise BadLocation(reason='a %s location must not carry credentials; '
                                     'configure them in the store section' % parts.scheme)
        if parts.fragment:
            raise BadLocation(reason='a %s location must not have a #fragment'
                                     % parts.scheme)
        return cls(parts.scheme.lower(), parts.netloc, parts.path, parts.query)

    @property
    def label(self):
        """The location without its scheme and query, for messages and logs."""
        return self.netloc + self.path

    def __str__(self):
        # Always "scheme://": urlunsplit drops the slashes of schemes it does not know.
        query = '?' + self.query if self.query else ''
        return '%s://%s%s%s' % (self.scheme, self.netloc, self.path, query)


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one object.

    :param location: the object's location URI (what Parallax records).
    :param size: size in bytes.
    :param etag: the normalised ETag (see :func:`normalize_etag`), or None when the
        backend has none (an HTTP server that sends no ETag).
    :param last_modified: an aware UTC :class:`datetime.datetime`, or None.
    """

    location: str
    size: int
    etag: str | None
    last_modified: datetime.datetime | None = None


class ReadIterator:
    """The iterator that :meth:`Store.get` returns.

    It pulls at most ``chunk_size`` bytes per step from a ``read(n)`` callable until
    ``length`` bytes have arrived. Exceptions of the types in ``errors`` become
    :class:`StoreIOError`, and so does an early end of data: a short read is never
    silent. The resource is released by :meth:`close`, at the end of the data, or on
    the first error.

    :param store: the store, for messages.
    :param location: the :class:`Location` being read, for messages.
    :param read: ``read(n) -> bytes`` of the open response or file.
    :param length: the exact number of bytes to deliver.
    :param close: releases the response or file; called once.
    :param errors: tuple of the client library's exception types to translate.
    """

    def __init__(self, store, location, read, length, close, errors=()):
        self._store = store
        self._location = location
        self._read = read
        self._remaining = length
        self._length = length
        self._close = close
        self._errors = errors

    def __iter__(self):
        return self

    def __next__(self):
        if self._remaining <= 0:
            self.close()
            raise StopIteration
        want = min(self._store.chunk_size, self._remaining)
        try:
            data = self._read(want)
        except self._errors as err:
            self.close()
            raise self._store.error(StoreIOError, self._location,
                                    'read failed: %s' % type(err).__name__) from err
        if not data:
            reason = 'short read: got %d of %d bytes' % (self._length - self._remaining,
                                                         self._length)
        elif len(data) > want:
            reason = 'the backend returned more bytes than asked for'
        else:
            self._remaining -= len(data)
            return data
        self.close()
        raise self._store.error(StoreIOError, self._location, reason)

    def close(self):
        """Release the underlying response or file (idempotent)."""
        close, self._close = self._close, None
        if close is not None:
            close()


class SourceReader:
    """Wraps the chunks handed to :meth:`Store.add` and counts them.

    Client libraries may wrap or retry around an exception raised while they consume
    the iterable; this remembers the caller's own exception so ``add`` can re-raise
    exactly that one after cleaning up.

    :param chunks: an iterable of bytes.
    """

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self.error = None
        self.size = 0

    def __iter__(self):
        return self

    def __next__(self):
        try:
            chunk = next(self._chunks)
        except StopIteration:
            raise
        # Record whatever the caller's iterable raised (a disconnect, a size cap) so
        # it can be re-raised unchanged; it is never swallowed here.
        except BaseException as err:
            self.error = err
            raise
        self.size += len(chunk)
        return chunk


class Store(abc.ABC):
    """One storage backend, built once at startup from its own conf section.

    Contract:

    * ``__init__`` validates every option (subclasses read theirs in
      :meth:`_configure`), raising :class:`BadStoreConfiguration` naming the bad
      one, and opens no connection (connections are made per call, so
      a store is safe to share between greenthreads).
    * :meth:`head` returns an :class:`ObjectInfo` or raises :class:`ObjectNotFound`.
    * :meth:`get` returns a :class:`ReadIterator`: chunks of at most ``chunk_size``
      bytes read with the backend's native ranges; errors while iterating raise
      :class:`StoreIOError`.
    * :meth:`open_local` (optional) returns the object as an open local file, so that
      Teller can send it with ``sendfile(2)``; stores without local files keep the
      default, None, and are read with :meth:`get`.
    * :meth:`add` writes an object from an iterable of bytes; on any failure it
      removes what it wrote and re-raises (the iterable's own exception unchanged).
    * :meth:`delete` removes an object or raises :class:`ObjectNotFound`.
    * :meth:`location_for` names the object for chunk ``index`` of an image.
    * Client-library errors become store exceptions here, once. Messages name the
      store and the object path and never hold a secret or a client's own message.

    Subclasses set :attr:`schemes` and :attr:`writable` and implement :meth:`head`
    and :meth:`_open`; writable stores also implement :meth:`_write`,
    :meth:`_delete` and :meth:`_object_location` (never called on a read-only one).

    :param options: the raw options of the store's ``[store:<name>]`` section.
    :param name: the store's name (its entry-point name); defaults to the first scheme.
    :raises BadStoreConfiguration: for a missing or invalid option.
    """

    #: URI schemes this class can serve.
    schemes = ()
    #: False for read-only stores: :meth:`add` and :meth:`delete` raise StoreReadOnly.
    writable = True

    def __init__(self, options, name=None):
        self.name = name or self.schemes[0]
        opts = config.Options(options, 'store:%s' % self.name)
        try:
            self.chunk_size = opts.get_size('chunk_size', DEFAULT_CHUNK_SIZE, minimum=1)
            self._configure(opts)
        except BadStoreConfiguration:
            raise
        except exception.ConfigError as err:
            raise BadStoreConfiguration(self.name, err.option, err.why) from None

    def _configure(self, opts):
        """Read and check the store's own options (the base reads ``chunk_size``).

        The options view is not kept, so raw secrets do not outlive startup.

        :param opts: a :class:`glance.common.config.Options` of the section.
        :raises ConfigError: for a bad option (reported as BadStoreConfiguration).
        """

    def _required(self, opts, option):
        """Return a required string option.

        :raises BadStoreConfiguration: when it is absent or empty.
        """
        value = opts.get_str(option)
        if not value:
            raise BadStoreConfiguration(self.name, option, 'required')
        return value

    def __repr__(self):
        return '<%s %s>' % (type(self).__name__, self.name)

    def error(self, cls, location, reason=None, **kwargs):
        """Build a store exception naming this store and the object.

        :param cls: a :class:`StoreError` subclass.
        :param location: the :class:`Location` concerned.
        :param reason: a human-readable reason (never a client library's message).
        :returns: the exception, for the caller to raise.
        """
        return cls(store=self.name, path=location.label, reason=reason, **kwargs)

    def parse_location(self, location):
        """Parse a location and check that this store serves its scheme.

        :param location: a URI string or :class:`Location`.
        :returns: the :class:`Location`.
        :raises BadLocation: if unparsable or of another scheme.
        """
        loc = Location.parse(location)
        if loc.scheme not in self.schemes:
            raise BadLocation(reason='store %s does not serve %s:// locations'
                                     % (self.name, loc.scheme))
        return loc

    @abc.abstractmethod
    def head(self, location):
        """Return the object's size, ETag and modification time.

        :param location: a URI string or :class:`Location`.
        :returns: :class:`ObjectInfo`.
        :raises ObjectNotFound: if the object does not exist.
        :raises StoreError: for any other failure.
        """

    def get(self, location, offset=0, length=None):
        """Stream the object's bytes from ``offset``, at most ``length`` of them.

        A range reaching past the end is cut at the end, like a file read; an offset
        at or past the end gives no bytes.

        :param location: a URI string or :class:`Location`.
        :param offset: first byte to read (>= 0).
        :param length: number of bytes to read (>= 0), or None for all the rest.
        :returns: a :class:`ReadIterator`; call its ``close()`` if you stop early.
        :raises ObjectNotFound: if the object does not exist.
        :raises StoreError: for any other failure before the first byte.
        :raises ValueError: for a negative offset or length (a caller's bug).
        """
        if offset < 0 or (length is not None and length < 0):
            raise ValueError('offset and length must not be negative')
        loc = self.parse_location(location)
        if length == 0:
            self.head(loc)
            return ReadIterator(self, loc, None, 0, None)
        return self._open(loc, offset, length)

    def open_local(self, location):
        """Return the object as an open local file, or None if it is not one.

        Optional: the zero-copy download path uses it to hand the file to
        ``sendfile(2)``; the default is None (read the object with :meth:`get`).

        :param location: a URI string or :class:`Location`.
        :returns: an unbuffered binary file opened for reading (the caller closes
            it), or None.
        :raises ObjectNotFound: if the object does not exist.
        :raises BadLocation: if unparsable or of another scheme.
        """
        self.parse_location(location)
        return None

    @abc.abstractmethod
    def _open(self, location, offset, length):
        """Start a ranged read; return a :class:`ReadIterator` over the response.

        ``length`` is None or > 0. Map "range not satisfiable" to an empty read.
        """

    def add(self, name, chunks, size=None):
        """Write a new object, replacing any object at that location.

        :param name: where to write: a location as returned by :meth:`location_for`.
        :param chunks: an iterable of bytes; whatever it raises is re-raised as is.
        :param size: the expected size, if known; a different byte count is an error.
        :returns: :class:`ObjectInfo` of the new object, ETag as the store reported it.
        :raises StoreReadOnly: for a read-only store.
        :raises StoreError: when the store fails; what was written is removed first.
        """
        loc = self.parse_location(name)
        if not self.writable:
            raise self.error(StoreReadOnly, loc, operation='write')
        source = SourceReader(chunks)
        try:
            info = self._write(loc, source, size)
            if size is not None and info.size != size:
                raise self.error(StoreIOError, loc, 'expected %d bytes, got %d'
                                 % (size, info.size))
        # Deliberate cleanup of a partial write, then re-raise: never swallowed.
        except BaseException as err:
            self._discard(loc)
            if source.error is not None and err is not source.error:
                raise source.error from None
            raise
        return info

    def _write(self, location, source, size):
        """Write ``source`` (a :class:`SourceReader`) to ``location``.

        Translate the client library's errors into store exceptions and clean up what
        the library leaves behind itself (temp files, multipart uploads).

        :returns: :class:`ObjectInfo` with ``size == source.size``.
        """
        raise NotImplementedError('writable stores implement _write')

    def _discard(self, location):
        """Best-effort removal of a partly written object after a failed add."""
        try:
            self._delete(location)
        except ObjectNotFound:
            pass
        except StoreError as err:
            LOG.warning('Could not remove partial object after a failed write: %s', err)

    def delete(self, location):
        """Delete an object.

        :param location: a URI string or :class:`Location`.
        :raises StoreReadOnly: for a read-only store.
        :raises ObjectNotFound: if the object does not exist.
        :raises StoreError: for any other failure.
        """
        loc = self.parse_location(location)
        if not self.writable:
            raise self.error(StoreReadOnly, loc, operation='delete')
        self._delete(loc)

    def _delete(self, location):
        """Delete the object at a parsed location; ObjectNotFound if missing."""
        raise NotImplementedError('writable stores implement _delete')

    def location_for(self, image_id, index):
        """Name the object that holds chunk ``index`` of image ``image_id``.

        :param image_id: the image's id (used verbatim, percent-encoded).
        :param index: the chunk's position in the image, from 0.
        :returns: a location URI string for :meth:`add`.
        :raises StoreReadOnly: for a read-only store.
        """
        name = '%s-%05d' % (image_id, index)
        if not self.writable:
            raise StoreReadOnly(store=self.name, path=name, operation='write')
        return str(self._object_location(urllib.parse.quote(name, safe='')))

    def _object_location(self, quoted_name):
        """Return the :class:`Location` of object ``quoted_name`` in the configured
        container, bucket or directory."""
        raise NotImplementedError('writable stores implement _object_location')
