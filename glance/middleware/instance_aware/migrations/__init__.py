"""Alembic history of the related-images table (version table ``instance_aware_version``).

Run through :data:`glance.middleware.instance_aware.db.HISTORY`; there is no
``alembic.ini``: the script location, connection and version table are handed over in
code.
"""
