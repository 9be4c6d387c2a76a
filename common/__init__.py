"""The ground every layer stands on: settings, errors, units, logging, payload records, atomic files."""

from common.allocator import configure_allocator

configure_allocator()  # first thing: before any module of the tracker loads polars
