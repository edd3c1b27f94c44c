"""Example third-party videovae plugin package."""
