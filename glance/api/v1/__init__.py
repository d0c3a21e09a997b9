"""The Glance v1 API on glance-api (``/v1``), for v1 clients such as
python-glanceclient's ``glanceclient.v1`` and ``glance --os-image-api-version 1``.

:mod:`.routes` lists the requests; :mod:`.images` and :mod:`.members` map them onto
the image core (:mod:`glance.api.core`); :mod:`.codec` and :mod:`.listing` own the
v1 wire format.
"""
