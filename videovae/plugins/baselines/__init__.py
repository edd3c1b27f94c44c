"""Built-in baseline models (Sec. 5.3)."""
