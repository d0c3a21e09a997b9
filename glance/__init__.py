"""Glance: an image registry (Parallax) and a streaming image proxy (Teller)."""

__version__ = '0.1.0'
