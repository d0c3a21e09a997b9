"""nova package."""
