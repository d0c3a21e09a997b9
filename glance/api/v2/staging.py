"""The staging area of the v2 ``glance-direct`` import: one file per staged image.

``PUT /v2/images/<id>/stage`` streams the data into a private file of the folder
``import_staging_dir`` (:meth:`StagingArea.stage`), and ``POST /v2/images/<id>/import``
takes it out again (:meth:`StagingArea.take`) to hand it to the image core's upload.
A staged file is named after the image id and appears only once complete (written
under a temporary name, then renamed over any earlier one), so an image has at most
one staged file and an import never reads a partial one. Taking renames the file
away first, so two imports of one image cannot both read it. The image's status
(queued, then uploading once staged) is the image core's; this module keeps bytes.

The folder is local to one glance-api host (and shared by its workers): the stage
and import requests of an image must reach the same host. A file left by a crash
(``*.part``, ``*.taken``) is garbage a restart does not clean up.
"""

import os
import tempfile

from glance.common import exception, streaming

_PART = '.part'
_TAKEN = '.taken'


class StagingArea:
    """Staged image data in one folder.

    :param folder: an existing folder (``import_staging_dir``).
    :param block_size: bytes read from a request body per read.
    :param size_cap: the most bytes one image may stage (``image_size_cap``).
    :raises ConfigError: when ``folder`` is not a folder.
    """

    def __init__(self, folder, block_size, size_cap):
        if not os.path.isdir(folder):
            raise exception.ConfigError('import_staging_dir', 'DEFAULT',
                                        'no such folder: %s' % folder)
        self.folder = folder
        self.block_size = block_size
        self.size_cap = size_cap

    def _path(self, image_id):
        return os.path.join(self.folder, image_id)

    def has(self, image_id):
        """True when data is staged for ``image_id``."""
        return os.path.exists(self._path(image_id))

    def stage(self, image_id, body, declared_size=None):
        """Write ``body`` (read with ``read(n)``) as the staged data of ``image_id``.

        :param declared_size: the size the client declared, or None; the data must
            have it.
        Staged data of an earlier, unfinished stage is replaced.

        :returns: the number of bytes staged.
        :raises RequestTooLarge: over ``size_cap``.
        :raises Invalid: when the data is not ``declared_size`` bytes long.
        """
        reader = streaming.LimitedReader(body, self.size_cap)
        handle, part = tempfile.mkstemp(prefix=image_id + '.', suffix=_PART,
                                        dir=self.folder)
        try:
            with os.fdopen(handle, 'wb') as staged:
                for block in streaming.iter_blocks(reader, self.block_size):
                    staged.write(block)
            if declared_size is not None and reader.count != declared_size:
                raise exception.Invalid(reason='%d bytes were declared but %d arrived'
                                               % (declared_size, reader.count))
            os.replace(part, self._path(image_id))
        # Deliberate cleanup of the partial file on every failure; re-raised.
        except BaseException:
            os.unlink(part)
            raise
        return reader.count

    def take(self, image_id):
        """Remove the staged data of ``image_id`` from the area and open it.

        :returns: ``(file, size)``; the caller reads and closes the file (its data
            is gone from the folder already).
        :raises Conflict: when nothing is staged for the image.
        """
        handle, taken = tempfile.mkstemp(prefix=image_id + '.', suffix=_TAKEN,
                                         dir=self.folder)
        os.close(handle)
        try:
            os.rename(self._path(image_id), taken)
        except FileNotFoundError:
            os.unlink(taken)
            raise exception.Conflict(reason='no data is staged for image %s: stage it '
                                            'first (PUT /v2/images/%s/stage)'
                                            % (image_id, image_id)) from None
        try:
            staged = open(taken, 'rb')
        finally:
            os.unlink(taken)
        return staged, os.fstat(staged.fileno()).st_size

    def discard(self, image_id):
        """Delete the staged data of ``image_id``, if any (the image was deleted)."""
        try:
            os.unlink(self._path(image_id))
        except FileNotFoundError:
            pass
