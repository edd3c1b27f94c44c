"""Built-in whole models: the composed VideoVAE of Fig. 2 (kind ``model``, name ``composed``)."""
