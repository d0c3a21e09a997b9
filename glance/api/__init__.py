"""Teller, the streaming image proxy served by glance-api (see router.py)."""
