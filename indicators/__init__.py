"""indicators package."""
