"""File I/O on top of the pure format modules."""
