"""The situations of the running statistics' and inference's cases.

The running statistics, the momentum (rounded by
:func:`~bnspec.spec.strategies.attribute`) and BN-EVAL-3's W and A_prev are pinned per
situation from its seed, in the ranges of :mod:`bnspec.spec.properties.running`
(:meth:`~bnspec.spec.vectors.cases.Situation.pins`); the profile's files (BN-RUN-1) are made
under each profile by the property itself."""

from __future__ import annotations

from .cases import Situation
from .layer import BASE

#: Inference takes m = 1 too (it uses no batch statistics).
INFERENCE = BASE + (Situation("m = 1 (one example)", 111, 3, 1),)
