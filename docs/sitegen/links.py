"""Where things are documented: the page and anchor of a clause, an API symbol,
a lecture claim; the property that checks a clause.

Every link the generators write is relative to the page that holds it, so
mkdocs validates it (``validation: links`` in mkdocs.yml) and the site works
from any folder, offline.
"""

from __future__ import annotations

import posixpath
import re

from bnspec.spec.clauses import Clause
from bnspec.spec.properties import Property, load_all
from bnspec.spec.report import CLAUSE_PAGE

from . import source

#: package -> the API page that renders it with its submodules (mkdocstrings); the longest prefix wins.
API_PAGES = {"bnspec.reference": "api/reference.md", "bnspec.spec.properties": "api/properties.md",
             "bnspec.spec.adapters": "api/adapters.md", "bnspec.spec": "api/spec.md"}

_CLAIM = re.compile(r"^L(\d+)$")


def relative(from_uri: str, to_uri: str) -> str:
    """The link from page ``from_uri`` to ``to_uri`` (both relative to docs/)."""
    return posixpath.relpath(to_uri, posixpath.dirname(from_uri) or ".")


def api_page(dotted: str) -> str:
    """The API page that documents ``dotted`` (ValueError if none does)."""
    for package in sorted(API_PAGES, key=len, reverse=True):
        if dotted == package or dotted.startswith(package + "."):
            return API_PAGES[package]
    raise ValueError(f"dotted: {dotted!r} is in no API page ({', '.join(API_PAGES)})")


def api_link(dotted: str, from_uri: str) -> str:
    """The link to ``dotted``'s entry in the API reference: mkdocstrings anchors
    each object with its dotted path."""
    return f"{relative(from_uri, api_page(dotted))}#{dotted}"


def clause_page(clause: Clause) -> str:
    """The specification page of ``clause``: one page per subject (the CLI's links read the same pattern)."""
    return CLAUSE_PAGE.format(subject=clause.subject)


def clause_link(clause: Clause, from_uri: str) -> str:
    """The link to ``clause``'s anchor, which is its ID exactly."""
    return f"{relative(from_uri, clause_page(clause))}#{clause.id}"


def claim_link(source: str, from_uri: str) -> str | None:
    """The link to a lecture claim (``L6`` -> the walk-through's ``#L6``), None
    for other sources (the paper's sections, conventions)."""
    if _CLAIM.match(source):
        return f"{relative(from_uri, 'lecture.md')}#{source}"
    return None


def property_of(clause_id: str) -> Property | None:
    """The property registered for ``clause_id`` with ``@proves``, if any."""
    return load_all().get(clause_id)


def property_entry(prop: Property) -> str:
    """The dotted path of the API entry that documents ``prop``: its qualname where its module's source
    defines that name (mkdocstrings reads the source, not the imported module), else its module.  A
    property made by a factory and renamed (one per optimizer function in
    :mod:`bnspec.spec.properties.optimizers`) has no entry of its own, so its link goes to its module."""
    try:
        source.snippet(prop.qualname)
    except ValueError:
        return prop.check.__module__
    return prop.qualname
