"""State: which live id belongs to which address. Never a secret."""
