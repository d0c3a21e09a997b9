"""The ``glance`` commands. Each ``do_<name>(session, args)`` returns an exit status.

Reads of metadata (``index``, ``details``, ``show``) ask the registry, which holds
filters, sorting, paging and non-active images. Everything that writes or moves image
data (``add``, ``update``, ``delete``, ``download``) goes through glance-api, which
owns the stores, as do the sharing commands (``member-list``, ``member-create``,
``member-delete``, ``members-replace``: glance-api's Glance v1 members calls). Errors
are raised as :mod:`glance.common.exception` classes (or :class:`UsageError`) and
turned into one line by :mod:`glance.cmd.shell`.
"""

import contextlib
import functools
import os
import stat
import sys

from glance.agent import fetch
from glance.client import codec, images as image_client
from glance.cli import output, progress
from glance.common import auth, config, context, exception
from glance.registry.client import RegistryClient

#: Fields ``add`` and ``update`` send as ``x-image-meta-<field>``; other keys are
#: properties. ``location`` may repeat, once per chunk, in order.
WRITABLE_FIELDS = codec.SENDABLE_FIELDS
#: Fields Glance sets itself.
READ_ONLY_FIELDS = codec.READ_ONLY_FIELDS
#: Registry filters ``index`` and ``details`` accept; other keys filter on properties.
FILTER_FIELDS = ('name', 'status', 'disk_format', 'container_format', 'is_public',
                 'owner', 'size_min', 'size_max', 'changes-since')
SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size', 'id',
             'created_at', 'updated_at')
_PROPERTY_PREFIX = 'property-'


class UsageError(Exception):
    """A command line that parses but cannot be acted on (exit status 2)."""


class Session:
    """What one command works with: its options, the standard streams, its clients.

    :param args: the parsed command line (see :func:`glance.cmd.shell.build_parser`).
    :param environ: the environment, for ``OS_AUTH_TOKEN`` and Keystone credentials.
    """

    def __init__(self, args, environ=None):
        self.args = args
        self.environ = environ or {}
        self.stdin = sys.stdin
        self.stdout = sys.stdout
        self.stderr = sys.stderr

    @functools.cached_property
    def context(self):
        """The caller's identity: a token (given, or from Keystone) and, for daemons in
        trusted_gateway mode, ``--tenant``/``--user``/``--roles``."""
        token = auth.TokenSource.from_environ(
            self.environ, self.args.auth_token, self.args.ca_file, self.args.insecure,
            self.args.timeout)()
        return context.RequestContext(
            tenant=self.args.tenant, user=self.args.user,
            roles=config.as_list(self.args.roles), auth_token=token)

    @property
    def is_anonymous(self):
        """True when this command sent neither a token nor a tenant."""
        ctx = self.__dict__.get('context')
        return ctx is None or (ctx.auth_token is None and ctx.is_anonymous)

    @functools.cached_property
    def registry(self):
        """The :class:`~glance.registry.client.RegistryClient` of ``--registry-url``."""
        return RegistryClient([self.args.registry_url], self.context, self.args.timeout,
                              self.args.ca_file, self.args.insecure, self.args.cert_file,
                              self.args.key_file)

    @functools.cached_property
    def api(self):
        """The :class:`~glance.client.images.ImageClient` of ``--url``."""
        return image_client.ImageClient(self.args.url, self.context, self.args.timeout,
                                        self.args.ca_file, self.args.insecure,
                                        cert_file=self.args.cert_file,
                                        key_file=self.args.key_file)

    def out(self, text):
        """Print a result on stdout."""
        print(text, file=self.stdout)

    def note(self, text):
        """Print a remark on stderr (kept out of results and data)."""
        print(text, file=self.stderr)

    def emit(self, data, human):
        """Print ``data`` as JSON with ``--json``, else the text ``human()`` renders."""
        self.out(output.to_json(data) if self.args.json else human())

    def progress(self, label):
        """A progress bar on stderr when it is a terminal, else None."""
        return progress.for_stream(self.stderr, label)


def _strip_property_prefix(key):
    return key[len(_PROPERTY_PREFIX):] if key.startswith(_PROPERTY_PREFIX) else None


def split_metadata(pairs):
    """Sort ``FIELD=VALUE`` pairs into writable fields and properties.

    A key written ``property-<key>`` is always a property, even ``property-name``.

    :param pairs: ``(key, value)`` tuples in command-line order.
    :returns: ``(fields, properties)``; ``fields['location']`` is a list.
    :raises UsageError: for a field Glance sets itself, or an empty key.
    """
    fields, properties = {}, {}
    for key, value in pairs:
        prop = _strip_property_prefix(key)
        if prop is not None:
            if not prop:
                raise UsageError('empty property name in %r' % key)
            properties[prop] = value
        elif key in READ_ONLY_FIELDS:
            raise UsageError('%s is set by Glance and cannot be given' % key)
        elif key == 'location':
            fields.setdefault('location', []).append(value)
        elif key in WRITABLE_FIELDS:
            fields[key] = value
        else:
            properties[key] = value
    return fields, properties


def split_filters(pairs):
    """Turn ``FIELD=VALUE`` pairs into registry filters.

    Keys in :data:`FILTER_FIELDS` (``changes_since`` is accepted for
    ``changes-since``) filter on fields; other keys, or ``property-<key>``, filter on
    properties.

    :returns: a filters dict for :meth:`RegistryClient.list_images`.
    """
    filters, properties = {}, {}
    for key, value in pairs:
        prop = _strip_property_prefix(key)
        key = 'changes-since' if key == 'changes_since' else key
        if prop is None and key in FILTER_FIELDS:
            filters[key] = value
        else:
            properties[prop if prop is not None else key] = value
    if properties:
        filters['properties'] = properties
    return filters


# -- reading metadata (registry) --------------------------------------------------

def _list(session, args, detail):
    filters = split_filters(args.filters)
    registry = session.registry
    if args.limit is None and args.marker is None:
        images = list(registry.iter_images(detail, filters, args.sort_key, args.sort_dir,
                                           args.page_size))
        next_marker = None
    else:
        page = registry.list_images(detail, filters, args.sort_key, args.sort_dir,
                                    args.limit, args.marker)
        images = page['images']
        next_marker = images[-1]['id'] if page['next'] and images else None

    def human():
        if not images:
            return 'No images found.'
        return output.details_list(images) if detail else output.image_table(images)

    session.emit({'images': images, 'next_marker': next_marker}, human)
    if next_marker and not args.json:
        session.note('More images follow: add --marker %s for the next page.'
                     % next_marker)
    return 0


def do_index(session, args):
    """List images, one line each."""
    return _list(session, args, detail=False)


def do_details(session, args):
    """List images with every field and property."""
    return _list(session, args, detail=True)


def do_show(session, args):
    """Show one image's full record."""
    image = session.registry.get_image(args.image)
    session.emit(image, lambda: output.image_details(image))
    return 0


# -- writing (glance-api) -----------------------------------------------------------

@contextlib.contextmanager
def _upload_source(session, path):
    """Yield ``(file, size)`` for ``--file``: a path, ``-`` for stdin, or None."""
    if path is None:
        yield None, None
        return
    if path == '-':
        data = session.stdin.buffer
        yield data, _regular_size(data)
        return
    with open(path, 'rb') as data:
        yield data, _regular_size(data)


def _regular_size(data):
    """The bytes left in a regular file; None for a pipe or terminal (sent chunked)."""
    info = os.fstat(data.fileno())
    if not stat.S_ISREG(info.st_mode):
        return None
    return info.st_size - data.tell()


def _send(session, args, call):
    """Run ``call(data, size, progress)`` with the ``--file`` source and a progress bar.

    :returns: ``(call's result, whether data was sent)``.
    """
    with _upload_source(session, args.file) as (data, size):
        bar = session.progress('Uploading') if data is not None else None
        try:
            return call(data, size, bar), data is not None
        finally:
            if bar is not None:
                bar.finish()


def _report_image(session, verb, image, sent_data):
    def human():
        lines = ['%s image %s.' % (verb, image.get('id')), output.image_details(image)]
        if sent_data and image.get('checksum'):
            lines.append('Upload verified: glance-api recorded the md5%s of the bytes '
                         'sent.' % (' and sha256' if image.get('sha256') else ''))
        return '\n'.join(lines)

    session.emit(image, human)


def do_add(session, args):
    """Create an image from FIELD=VALUE metadata, with data from --file (or stdin)."""
    fields, properties = split_metadata(args.metadata)
    image, sent = _send(session, args,
                        lambda data, size, bar: session.api.add_image(
                            fields, properties, data, size, bar))
    _report_image(session, 'Added', image, sent)
    return 0


def do_update(session, args):
    """Change an image's metadata, or upload data into a queued image."""
    fields, properties = split_metadata(args.metadata)
    if not (fields or properties or args.file or args.purge_props):
        raise UsageError('nothing to update: give FIELD=VALUE pairs, --file or '
                         '--purge-props')
    image, sent = _send(session, args,
                        lambda data, size, bar: session.api.update_image(
                            args.image, fields, properties, data, size, bar,
                            args.purge_props))
    _report_image(session, 'Updated', image, sent)
    return 0


def do_delete(session, args):
    """Delete images (data and record); go on after a failure, exit 1 if any failed."""
    deleted, status = [], 0
    for image_id in args.images:
        try:
            session.api.delete_image(image_id)
        except exception.GlanceException as err:
            session.note('glance: error: %s: %s' % (image_id, err))
            status = 1
            continue
        deleted.append(image_id)
        if not args.json:
            session.out('Deleted image %s.' % image_id)
    if args.json:
        session.out(output.to_json({'deleted': deleted}))
    return status


def _verification(result):
    if not result.verified:
        return ('warning: glance-api sent no checksum for image %s; the data is not '
                'verified' % result.image_id)
    return 'Verified %s.' % ', '.join('%s %s' % pair for pair in result.verified)


def do_download(session, args):
    """Download an image to --file (resumable) or to stdout, verifying its checksum."""
    to_stdout = args.file in (None, '-')
    if to_stdout and session.stdout.isatty():
        raise UsageError('refusing to write image data to a terminal; use --file PATH '
                         'or redirect stdout')
    bar = session.progress('Downloading')
    try:
        if to_stdout:
            session.stdout.flush()
            result = fetch.stream_image(session.api, args.image, session.stdout.buffer,
                                        bar)
        else:
            result = fetch.download_to_file(session.api, args.image, args.file, bar)
    finally:
        if bar is not None:
            bar.finish()
    if to_stdout:
        session.note(_verification(result))
        return 0
    summary = {'image_id': result.image_id, 'path': result.path, 'size': result.size,
               'resumed_from': result.resumed_from, 'verified': dict(result.verified)}
    session.emit(summary, lambda: 'Saved image %s to %s (%s%s).\n%s' % (
        result.image_id, result.path, output.human_size(result.size),
        ', resumed at byte %d' % result.resumed_from if result.resumed_from else '',
        _verification(result)))
    return 0


# -- sharing (glance-api's Glance v1 members calls) ------------------------------------

def do_member_list(session, args):
    """List the members of --image-id, or the images shared with --member-id."""
    if (args.image_id is None) == (args.member is None):
        raise UsageError('give exactly one of --image-id and --member-id')
    if args.image_id is not None:
        rows = [{'image_id': args.image_id, 'member_id': member.get('member_id'),
                 'can_share': member.get('can_share')}
                for member in session.api.list_members(args.image_id)]
    else:
        rows = [{'image_id': shared.get('image_id'), 'member_id': args.member,
                 'can_share': shared.get('can_share')}
                for shared in session.api.shared_images(args.member)]

    def human():
        if not rows:
            return 'No members found.'
        return output.table(['Image ID', 'Member ID', 'Can share'],
                            [[row['image_id'], row['member_id'],
                              'yes' if row['can_share'] else 'no'] for row in rows])

    session.emit({'members': rows}, human)
    return 0


def do_member_create(session, args):
    """Share an image with a member (tenant); --can-share lets it share further."""
    session.api.add_member(args.image, args.member, args.can_share)
    session.emit({'image_id': args.image, 'member_id': args.member,
                  'can_share': args.can_share},
                 lambda: 'Shared image %s with %s%s.' % (
                     args.image, args.member,
                     ' (may share it further)' if args.can_share else ''))
    return 0


def do_member_delete(session, args):
    """Stop sharing an image with a member."""
    session.api.delete_member(args.image, args.member)
    session.emit({'image_id': args.image, 'member_id': args.member, 'deleted': True},
                 lambda: 'Image %s is no longer shared with %s.' % (args.image,
                                                                    args.member))
    return 0


def do_members_replace(session, args):
    """Make an image's members exactly the ones given (none: stop all sharing)."""
    memberships = [{'member_id': member, 'can_share': args.can_share}
                   for member in args.members]
    session.api.replace_members(args.image, memberships)
    session.emit({'image_id': args.image, 'members': memberships},
                 lambda: 'Image %s is now shared with %s.' % (
                     args.image, ', '.join(args.members) or 'no one'))
    return 0
