"""forward returns what the protocol forbids: None, a list, a wrong shape, a wrong dtype, NaN."""

import numpy as np

from .base import CorrectBN


class ReturnsNoneBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        super().forward(z, gamma, beta, eps)  # computes, forgets to return


class ReturnsListBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        return super().forward(z, gamma, beta, eps).tolist()


class WrongShapeBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        return super().forward(z, gamma, beta, eps)[:, :1]  # one example only


class IntegerDtypeBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        return np.rint(super().forward(z, gamma, beta, eps)).astype(np.int64)


class ReturnsNaNBN(CorrectBN):
    def forward(self, z, gamma, beta, eps=1e-5):
        return np.full_like(z, np.nan)
