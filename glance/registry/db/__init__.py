"""registry db package."""
