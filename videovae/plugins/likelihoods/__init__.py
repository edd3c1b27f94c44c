"""Output likelihoods p(x | z): the reconstruction term of Eq. 9."""
