"""kestava package."""
