"""What the ``glance`` command prints: tables and detail blocks for people, JSON for scripts."""

import json
import re

_UNITS = ('KiB', 'MiB', 'GiB', 'TiB', 'PiB')
_RULE = '=' * 78
#: (label, field) of the detail block, in order; digests and properties follow.
_DETAIL_FIELDS = (('URI', 'uri'), ('Id', 'id'), ('Name', 'name'), ('Status', 'status'),
                  ('Public', 'is_public'), ('Owner', 'owner'),
                  ('Disk format', 'disk_format'), ('Container format', 'container_format'),
                  ('Size', 'size'), ('Checksum (md5)', 'checksum'),
                  ('Created at', 'created_at'), ('Updated at', 'updated_at'),
                  ('Deleted at', 'deleted_at'), ('Location', 'location'))
_SHOWN = frozenset(field for _label, field in _DETAIL_FIELDS)
# Every other field holding a hex digest (sha256, xxh3, ...) is shown by its name, so a
# digest the registry starts recording appears without a change here.
_HEX_DIGEST = re.compile(r'^[0-9a-f]{16,128}$')
_INDEX_COLUMNS = (('ID', 'id'), ('Name', 'name'), ('Disk Format', 'disk_format'),
                  ('Container Format', 'container_format'), ('Size', 'size'),
                  ('Status', 'status'))


def human_size(size):
    """Render a byte count for people: ``512 B``, ``1.5 MiB``; ``-`` when unknown."""
    if size is None:
        return '-'
    if size < 1024:
        return '%d B' % size
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return '%.1f %s' % (value, unit)


def _cell(value):
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'Yes' if value else 'No'
    return str(value)


def table(headers, rows, right=()):
    """Render rows of cells as an aligned table.

    :param headers: the column titles.
    :param rows: lists of cells (any values; None is blank, booleans Yes/No).
    :param right: titles of the columns aligned right (numbers).
    :returns: the table text (header, rule, rows), without a final newline.
    """
    rows = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(headers[col])] + [len(row[col]) for row in rows])
              for col in range(len(headers))]
    right_cols = {headers.index(title) for title in right}

    def line(cells):
        return ' '.join(cell.rjust(width) if col in right_cols else cell.ljust(width)
                        for col, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    return '\n'.join([line(headers), line(['-' * width for width in widths])]
                     + [line(row) for row in rows])


def image_table(images):
    """Render brief image records as an aligned table, one image per line.

    :param images: a list of image dicts.
    :returns: the table text (header, rule, rows), without a final newline.
    """
    return table([label for label, _field in _INDEX_COLUMNS],
                 [[image.get(field) for _label, field in _INDEX_COLUMNS]
                  for image in images], right=('Size',))


def image_details(image):
    """Render one full image record as ``Label: value`` lines, properties last.

    After the fixed fields come the digests the record holds (``Checksum (xxh3)``...),
    downloads being verified with one of them.

    :returns: the text without a final newline.
    """
    lines = []
    for label, field in _DETAIL_FIELDS:
        value = image.get(field)
        if value is None:
            continue
        if field == 'size':
            value = '%d (%s)' % (value, human_size(value))
        lines.append('%s: %s' % (label, _cell(value)))
    for field, value in sorted(image.items()):
        if field not in _SHOWN and isinstance(value, str) and _HEX_DIGEST.match(value):
            lines.append('Checksum (%s): %s' % (field, value))
    for key, value in sorted((image.get('properties') or {}).items()):
        lines.append('Property %r: %s' % (key, value))
    return '\n'.join(lines)


def details_list(images):
    """Render several full records as detail blocks separated by rules."""
    return '\n'.join('%s\n%s' % (_RULE, image_details(image)) for image in images) + (
        '\n' + _RULE if images else '')


def to_json(data):
    """Render data for scripts: indented, keys sorted, UTF-8 kept readable."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str)
