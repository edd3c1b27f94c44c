"""Built-in latents plugins."""
