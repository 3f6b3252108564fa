"""Data files shipped with the package (the fitted answer scorer)."""
