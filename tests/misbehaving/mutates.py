"""forward changes the caller's z in place (an in-place update left in the code)."""

from .base import CorrectBN


class MutatesBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        out = super().forward(z, gamma, beta, eps)
        z += 1.0
        return out
