"""Built-in plugins: the composed VideoVAE model, its parts, the baselines, data sets and presets.

Each module registers its parts through the hooks of :mod:`videovae.registry.hookspecs`,
exactly as a third-party plugin package would.
"""
