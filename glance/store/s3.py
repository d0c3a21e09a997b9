"""The ``s3://`` store: Amazon S3 or any S3 API (Swift's s3api, Ceph RGW) via boto3.

Locations look like ``s3://<bucket>/<key>``; the endpoint and keys come from
``[store:s3]`` only, never from a location.

=====================  ===========  ==================================================
option                 default      meaning
=====================  ===========  ==================================================
endpoint               (AWS)        e.g. http://127.0.0.1:8080 for a private S3 API
region                 us-east-1    the region requests are signed for
access_key             (required)   access key id
secret_key             (required)   secret access key (a secret: never logged)
bucket                 glance       bucket that receives uploads
create_bucket_on_put   true         create the bucket on the first upload
addressing_style       path         path, virtual or auto (path suits private APIs)
multipart_part_size    8M           part size of multipart uploads (at least 5M);
                                    objects smaller than one part use one PUT
chunk_size             1M           bytes read per iteration
timeout                60           seconds to wait for a connection or for data
retries                2            retries of a failed request (boto3 "standard"
                                    mode); multipart parts are retried one by one
=====================  ===========  ==================================================

An upload holds at most one part in memory. The largest object is
``multipart_part_size`` times the service's part limit (10000 on AWS, 1000 on
Swift's s3api).

**ETag.** What S3 returns, compared as an opaque string: the md5 of the content for a
single PUT, ``<md5 of the part md5s>-<parts>`` for a multipart upload.
"""

import logging
import threading
import urllib.parse

import boto3.session
import botocore.config
import botocore.exceptions
import urllib3.exceptions

from glance.store.base import (BadLocation, BadStoreConfiguration, Location,
                               ObjectInfo, ObjectNotFound, ReadIterator, Store,
                               StoreError, StoreUnavailable, normalize_etag,
                               range_header)

LOG = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
_NOT_FOUND = frozenset(('404', 'NoSuchKey', 'NotFound', 'NoSuchBucket'))
_UNAVAILABLE = frozenset(('SlowDown', 'ServiceUnavailable', 'RequestTimeout',
                          'InternalError', 'Throttling', 'RequestLimitExceeded'))
_BOTO_ERRORS = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
_CONNECTION_ERRORS = (botocore.exceptions.ConnectionError,
                      botocore.exceptions.HTTPClientError)
_READ_ERRORS = (botocore.exceptions.BotoCoreError, urllib3.exceptions.HTTPError, OSError)


class S3Store(Store):
    """Objects in S3 buckets.

    The boto3 client is created on first use and shared: boto3 clients are
    thread-safe, and building one costs tens of milliseconds.

    :param options: the ``[store:s3]`` options.
    :param name: the store name (default ``s3``).
    :raises BadStoreConfiguration: for a missing or invalid option.
    """

    schemes = ('s3',)

    def _configure(self, opts):
        self.endpoint = opts.get_str('endpoint')
        if self.endpoint and urllib.parse.urlsplit(self.endpoint).scheme not in (
                'http', 'https'):
            raise BadStoreConfiguration(self.name, 'endpoint', 'must be an http(s) URL')
        self.region = opts.get_str('region', 'us-east-1')
        self.access_key = self._required(opts, 'access_key')
        self._secret_key = opts.get_secret('secret_key')
        if not self._secret_key:
            raise BadStoreConfiguration(self.name, 'secret_key', 'required')
        self.bucket = opts.get_str('bucket', 'glance')
        if not self.bucket or '/' in self.bucket:
            raise BadStoreConfiguration(self.name, 'bucket', 'must be a bucket name')
        self.create_bucket = opts.get_bool('create_bucket_on_put', True)
        self.addressing_style = opts.get_str('addressing_style', 'path')
        if self.addressing_style not in ('path', 'virtual', 'auto'):
            raise BadStoreConfiguration(self.name, 'addressing_style',
                                        'must be path, virtual or auto')
        self.part_size = opts.get_size('multipart_part_size', 8 * 1024 * 1024,
                                       minimum=MIN_PART_SIZE)
        self.timeout = opts.get_float('timeout', 60.0, minimum=0.001)
        self.retries = opts.get_int('retries', 2, minimum=0, maximum=10)
        self._client = None
        self._client_lock = threading.Lock()
        self._ready_buckets = set()

    @property
    def client(self):
        """The shared boto3 S3 client, created on first use."""
        with self._client_lock:
            if self._client is None:
                config = botocore.config.Config(
                    region_name=self.region, connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={'total_max_attempts': self.retries + 1, 'mode': 'standard'},
                    s3={'addressing_style': self.addressing_style})
                self._client = boto3.session.Session().client(
                    's3', endpoint_url=self.endpoint or None,
                    aws_access_key_id=self.access_key,
                    aws_secret_access_key=self._secret_key.reveal(), config=config)
            return self._client

    def _split(self, location):
        """Return ``(bucket, key)`` of a location.

        :raises BadLocation: without a bucket or a key.
        """
        key = urllib.parse.unquote(location.path.lstrip('/'))
        if not location.netloc or not key or location.query:
            raise BadLocation(reason='expected s3://<bucket>/<key>')
        return location.netloc, key

    def _client_error(self, location, err):
        """Translate a botocore exception (never using its message).

        :param location: the location concerned.
        :param err: a ``ClientError`` or ``BotoCoreError``.
        :returns: the store exception to raise.
        """
        if isinstance(err, _CONNECTION_ERRORS):
            return self.error(StoreUnavailable, location,
                              'cannot reach S3: %s' % type(err).__name__)
        if not isinstance(err, botocore.exceptions.ClientError):
            return self.error(StoreError, location,
                              'S3 client error: %s' % type(err).__name__)
        code = str(err.response.get('Error', {}).get('Code', ''))
        status = err.response.get('ResponseMetadata', {}).get('HTTPStatusCode') or 0
        if code in _NOT_FOUND or status == 404:
            return self.error(ObjectNotFound, location)
        reason = 'S3 error %s (HTTP %s)' % (code or 'unknown', status or '?')
        if code in _UNAVAILABLE or status in (429, 503):
            return self.error(StoreUnavailable, location, reason)
        return self.error(StoreError, location, reason)

    def head(self, location):
        """HEAD the object.

        :param location: an ``s3://<bucket>/<key>`` location.
        :returns: :class:`~glance.store.base.ObjectInfo` with the ETag S3 recorded.
        :raises ObjectNotFound: if the object or its bucket is missing.
        :raises StoreUnavailable: if S3 cannot be reached or asks to slow down.
        :raises StoreError: for any other failure (e.g. a wrong key).
        """
        loc = self.parse_location(location)
        bucket, key = self._split(loc)
        try:
            resp = self.client.head_object(Bucket=bucket, Key=key)
        except _BOTO_ERRORS as err:
            raise self._client_error(loc, err) from err
        return ObjectInfo(str(loc), resp['ContentLength'], normalize_etag(resp.get('ETag')),
                          resp.get('LastModified'))

    def _open(self, location, offset, length):
        bucket, key = self._split(location)
        byte_range = range_header(offset, length)
        kwargs = {'Range': byte_range} if byte_range else {}
        try:
            resp = self.client.get_object(Bucket=bucket, Key=key, **kwargs)
        except botocore.exceptions.ClientError as err:
            if err.response.get('Error', {}).get('Code') == 'InvalidRange':
                return ReadIterator(self, location, None, 0, None)
            raise self._client_error(location, err) from err
        except botocore.exceptions.BotoCoreError as err:
            raise self._client_error(location, err) from err
        body = resp['Body']
        return ReadIterator(self, location, body.read, resp['ContentLength'], body.close,
                            errors=_READ_ERRORS)

    def _write(self, location, source, size):
        bucket, key = self._split(location)
        try:
            self._ensure_bucket(bucket)
            part = self._next_part(source)
            if len(part) < self.part_size:
                etag = self.client.put_object(Bucket=bucket, Key=key, Body=part)['ETag']
            else:
                etag = self._multipart(bucket, key, part, source)
        except _BOTO_ERRORS as err:
            error = self._client_error(location, err)
            if isinstance(error, ObjectNotFound):
                error = self.error(StoreError, location, 'bucket %s does not exist' % bucket)
            raise error from err
        return ObjectInfo(str(location), source.size, normalize_etag(etag))

    def _next_part(self, source):
        """Collect at least ``part_size`` bytes from the source, or all that is left."""
        chunks, count = [], 0
        for chunk in source:
            chunks.append(chunk)
            count += len(chunk)
            if count >= self.part_size:
                break
        return b''.join(chunks)

    def _multipart(self, bucket, key, first_part, source):
        """Upload ``first_part`` and the rest of ``source`` as a multipart upload.

        Every part but the last holds at least ``part_size`` bytes; on any failure the
        upload is aborted so no parts are left behind.

        :returns: the ETag of the completed object.
        """
        client = self.client
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)['UploadId']
        parts = []
        part = first_part
        try:
            while part:
                number = len(parts) + 1
                resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                          PartNumber=number, Body=part)
                parts.append({'ETag': resp['ETag'], 'PartNumber': number})
                part = self._next_part(source)
            return client.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id,
                MultipartUpload={'Parts': parts})['ETag']
        # Deliberate cleanup of the parts already uploaded, then re-raise.
        except BaseException:
            try:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            except _BOTO_ERRORS as err:
                LOG.warning('Could not abort multipart upload of s3://%s/%s: %s',
                            bucket, key, type(err).__name__)
            raise

    def _ensure_bucket(self, bucket):
        """Create the bucket on first use when ``create_bucket_on_put`` is set."""
        if not self.create_bucket or bucket in self._ready_buckets:
            return
        try:
            self.client.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError as err:
            if err.response.get('ResponseMetadata', {}).get('HTTPStatusCode') != 404:
                raise
            extra = ({} if self.region == 'us-east-1' else
                     {'CreateBucketConfiguration': {'LocationConstraint': self.region}})
            try:
                self.client.create_bucket(Bucket=bucket, **extra)
            except self.client.exceptions.BucketAlreadyOwnedByYou:
                pass
        self._ready_buckets.add(bucket)

    def _delete(self, location):
        bucket, key = self._split(location)
        try:
            # S3 deletes of missing keys succeed; HEAD first to report them.
            self.client.head_object(Bucket=bucket, Key=key)
            self.client.delete_object(Bucket=bucket, Key=key)
        except _BOTO_ERRORS as err:
            raise self._client_error(location, err) from err

    def _object_location(self, quoted_name):
        return Location('s3', self.bucket, '/' + quoted_name)
