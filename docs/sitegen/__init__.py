"""The generators of the documentation site (not part of the bnspec distribution).

The entry point is ``hooks.py``, named in ``mkdocs.yml``: its hooks copy the
vendored KaTeX and the figures into the site, and expand the directives of
the pages (``{{ clauses("layer") }}``, ``{{ source("dotted.path") }}``,
``{{ profiles() }}``, ``{{ matrix() }}``), so that every page that is data
rather than prose is generated at each build from the one source of truth --
the clause registry, the property registry, spec/profiles.py,
docs/conformance/matrix.json, the reference's code -- and never copied.

The modules behind it: ``links`` (where a clause, an API symbol or a lecture
claim is documented; the property that checks a clause), ``source`` (a
symbol's code, read without importing it), ``spec_pages`` (the
specification, in English and Traditional Chinese), ``conformance`` (the
profiles and the matrix), ``figures`` (matplotlib, from the reference; also
a script: ``python docs/sitegen/figures.py --output DIR``), ``zoo`` (the tests'
faulty implementations and the clauses that catch them), ``changelog`` (the
releases, from spec/releases.json) and ``tutorial`` (a real run of ``bnspec
check`` on the learner's example with a classic mistake, made at each build).

Anchors: a clause's anchor is its ID exactly (``spec/layer.md#BN-SHAPE-1``); an
API symbol's is its dotted path (``api/reference.md#bnspec.reference.batchnorm.forward``);
a lecture claim's is its number (``lecture.md#L6``).
"""

from __future__ import annotations

from pathlib import Path

#: The repository's root (mkdocs.yml's folder).
ROOT = Path(__file__).resolve().parents[2]
