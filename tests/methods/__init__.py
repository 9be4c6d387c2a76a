"""Tests of the progress-assessment methods, one file per method."""
