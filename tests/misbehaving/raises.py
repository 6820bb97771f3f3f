"""forward raises on every input."""

from .base import CorrectBN


class RaisesBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        raise RuntimeError("forward is not implemented yet")
