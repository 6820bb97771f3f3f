"""Clauses on BN inside a network: where it sits, its parameters, the training
loop and the optimizers (L1-L4, L6, L7, L11)."""

from . import clause

_NET = "bnspec.reference.network."
_TRAIN = "bnspec.reference.training."

clause("NET-SHAPE-1", "MUST", "The parameters of a network with BN",
       "A layer with BN has W[l] (n[l] x n[l-1]), gamma[l] and beta[l] (n[l] x 1) and no b[l]; a "
       "layer without BN has W[l] and b[l]; every gradient has its parameter's shape.",
       r"W^{[l]} \in \mathbb{R}^{n^{[l]}\times n^{[l-1]}},\ \gamma^{[l]}, \beta^{[l]} \in "
       r"\mathbb{R}^{n^{[l]}\times 1}", ("L2", "L7", "L10", "L11"), subject="network",
       implements=(_NET + "init_params", _NET + "backward"))
clause("NET-FWD-1", "MUST", "BN sits between Z and A",
       "Each layer with BN computes Z = W A_prev, then Z~ = BN(Z), then A = g(Z~), and the next "
       "layer takes A.",
       r"Z^{[l]} = W^{[l]}A^{[l-1]},\ \tilde Z^{[l]} = \mathrm{BN}(Z^{[l]}),\ A^{[l]} = g^{[l]}(\tilde Z^{[l]})",
       ("L1",), subject="network", implements=(_NET + "forward",))
clause("NET-BIAS-1", "MUST", "A bias before BN does nothing",
       "Adding b[l] before a BN layer changes no output of the network and no other gradient, "
       "and the gradient of b[l] is 0.",
       r"\frac{\partial \mathcal{L}}{\partial b^{[l]}} = 0", ("L7",), subject="network",
       implements=(_NET + "forward", _NET + "backward"))
clause("NET-SCALE-1", "MUST", "Scale invariance in a network",
       "Scaling W[l] of a BN layer by c > 0 (and its eps by c^2) changes no output, and dW[l] "
       "scales by 1/c.",
       r"\frac{\partial \mathcal{L}}{\partial (cW)} = \frac{1}{c}\frac{\partial \mathcal{L}}{\partial W}",
       ("paper §3.3",), subject="network", implements=(_NET + "backward",))
clause("NET-GRAD-1", "MUST", "Back-propagation is the gradient",
       "The network's dW, db, dgamma and dbeta agree with central finite differences of the loss.",
       r"\langle \nabla_\theta \mathcal{L}, v\rangle = \tfrac{d}{dt}\mathcal{L}(\theta + tv)",
       ("L11",), subject="network", implements=(_NET + "backward", _NET + "loss_and_grads"))
clause("NET-EVAL-1", "MUST", "Inference on single examples",
       "In inference mode the network's prediction for an example is the same alone or inside a "
       "batch: it uses the running statistics.",
       r"\hat y(x^{(i)}) = \hat y(X)_{:,i}", ("L12",), subject="network",
       implements=(_NET + "predict",))
clause("TRAIN-1", "MUST", "Training with BN lowers the loss",
       "On a small separable data set, mini-batch training with BN lowers the loss with gradient "
       "descent, momentum, RMSprop and Adam.",
       r"\mathcal{L}_{\text{end}} < \mathcal{L}_{\text{start}}", ("L4", "L6", "L11"), subject="network",
       implements=(_TRAIN + "train",))
