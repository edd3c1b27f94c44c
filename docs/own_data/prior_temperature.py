"""`videovae evaluate` with the learned prior's standard deviation (Eq. 5) scaled by TAU when generating
(docs/own_data.md, "What holds the sprites' mode iv"): TAU = 1 is the protocol, 0 the prior's mean at every step.
Only calls without gradients (generation) are scaled; the library is unchanged.

    PYTHONPATH=. python docs/own_data/prior_temperature.py TAU evaluate --checkpoint RUN/checkpoint.pt --out DIR \
        --first-frame --classifier-steps 1000
"""
import math
import sys

import torch

from videovae.cli import main
from videovae.core.distributions import DiagonalGaussian
from videovae.plugins.priors import lstm

tau = float(sys.argv[1])
prior = lstm.LSTMPrior.prior


def scaled_prior(self, hidden, attributes):
    p = prior(self, hidden, attributes)
    if torch.is_grad_enabled() or tau == 1.0:
        return p
    logvar = p.logvar + 2 * math.log(tau) if tau > 0 else torch.full_like(p.logvar, -60.0)  # tau 0: the mean
    return DiagonalGaussian(p.mean, logvar)


lstm.LSTMPrior.prior = scaled_prior
sys.exit(main(sys.argv[2:]))
