"""Built-in priors plugins."""
