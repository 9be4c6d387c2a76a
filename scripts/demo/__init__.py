"""Generators of the bundled demo snapshot, one module per source, in the real wire formats."""
