"""The classic mistakes of a from-scratch batch norm, as one-line edits of learner_bn.py.

Each is ``(correct text, mistaken text)``: ``learner_bn.py`` with the first replaced by the second is
the learner's code with that mistake.  The documentation's tutorial runs ``bnspec check`` on the
first one when the site is built, ``make bench`` times it, and the tests check what bnspec says of it.
"""

#: eps added to the standard deviation instead of the variance: (z - mu) / (sqrt(var) + eps).
EPS_OUTSIDE_ROOT = ("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")
