"""Pretrained models that ship with videovae, one folder each: ``<name>/model.safetensors``, ``config.json`` (what
``videovae export`` writes) and ``card.json`` (description, the command that made it, its measured checks).

This package holds data only; :mod:`videovae.engine.pretrained` lists and loads what is here
(``videovae pretrained``, ``videovae.load_pretrained(name)``, ``videovae.load("pretrained:NAME")``).
"""
