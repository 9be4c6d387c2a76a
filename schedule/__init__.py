"""The scheduler service behind scheduler.py (its command-line entry point), one part per module."""
