"""Built-in codecs plugins."""
