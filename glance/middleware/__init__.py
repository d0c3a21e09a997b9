"""Paste filters: one per module, each exporting ``filter_factory``."""
