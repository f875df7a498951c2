"""Pure format logic: bytes in, bytes out; no file handles here."""
