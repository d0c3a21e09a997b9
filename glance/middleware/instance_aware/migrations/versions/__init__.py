"""Revisions of the related-images table, oldest first."""
