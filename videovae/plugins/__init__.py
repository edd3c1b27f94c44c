"""Built-in plugins: the VideoVAE parts, the baselines' parts, data sets and presets.

Each module registers its parts through the hooks of :mod:`videovae.registry.hookspecs`,
exactly as a third-party plugin package would.
"""
