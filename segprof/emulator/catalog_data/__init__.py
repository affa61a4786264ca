"""Package data: catalog JSON of the emulated workspace (no code)."""
