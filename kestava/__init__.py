"""kestava package."""

from common.allocator import configure_allocator

configure_allocator()  # `from kestava import api` (notebooks) loads polars next: set its allocator first
