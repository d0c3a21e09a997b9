"""Property-based tests of the ``x-image-meta-*`` header codec, both ways.

An image record rendered as response headers and sent back as request headers (as a
client copying an image's metadata does) must give back the same writable fields and
properties; values outside printable ASCII are percent-encoded UTF-8 on the way out.
"""

import urllib.parse

from hypothesis import given, strategies as st

from glance.api import headers

printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=30)
# Header values lose surrounding whitespace on the wire; the codec strips them too.
plain_values = printable.map(str.strip)
property_keys = st.from_regex(r'[a-z0-9][a-z0-9_]{0,20}', fullmatch=True)
hex_digests = st.integers(min_value=0, max_value=2 ** 128 - 1).map('{:032x}'.format)


@st.composite
def records(draw):
    """A registry record with every writable field drawn (or absent)."""
    optional = {
        'name': plain_values, 'disk_format': plain_values,
        'container_format': plain_values, 'owner': plain_values,
        'is_public': st.booleans(), 'size': st.integers(min_value=0, max_value=2 ** 63 - 1),
        'checksum': hex_digests, 'xxh3': hex_digests,
        'sha256': st.integers(min_value=0, max_value=2 ** 256 - 1).map('{:064x}'.format)}
    record = {'id': 'img', 'status': 'active'}
    for field, strategy in optional.items():
        if draw(st.booleans()):
            record[field] = draw(strategy)
    record['properties'] = draw(st.dictionaries(property_keys, plain_values, max_size=5))
    return record


def _environ(pairs):
    """The WSGI environ a server builds from request headers (latin-1 text)."""
    return {'HTTP_' + name.upper().replace('-', '_'): value for name, value in pairs}


@given(records())
def test_writable_fields_and_properties_survive_the_round_trip(record):
    rendered = headers.image_meta_headers(record, show_locations=False)
    writable = [(name, value) for name, value in rendered
                if name[len('x-image-meta-'):] in headers.WRITABLE_FIELDS
                or name.startswith('x-image-meta-property-')]
    meta = headers.parse_image_meta(_environ(writable))
    assert meta.fields == {field: record[field] for field in headers.WRITABLE_FIELDS
                           if field in record}
    assert meta.properties == record['properties']
    assert meta.locations == []


@given(st.text(max_size=40))
def test_any_value_is_sent_as_latin1_and_decodes_back(value):
    record = {'id': 'img', 'name': value, 'properties': {'note': value}}
    rendered = dict(headers.image_meta_headers(record, show_locations=False))
    for name in ('x-image-meta-name', 'x-image-meta-property-note'):
        sent = rendered[name]
        sent.encode('latin-1')
        decoded = sent if value.isascii() and value.isprintable() else (
            urllib.parse.unquote(sent, errors='surrogatepass'))
        assert decoded == value
