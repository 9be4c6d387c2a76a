"""kestava package."""

import common  # noqa: F401  first: common sets polars' allocator (common.allocator) before polars loads
