"""The JSON Schema (draft 2020-12) of a set of golden vectors: the manifest and
the case files.  ``bnspec vectors export`` writes it beside the set as
``vectors.schema.json``; it is built here so that it ships with the package."""

from __future__ import annotations

from typing import Any

from ..process.codec import DTYPES, HEX_FLOAT
from ..protocol import NAMES

CLAUSE_ID = r"^[A-Z]+(-[A-Z]+)*-([0-9]+|REF)$"


def schema() -> dict[str, Any]:
    from . import FORMAT, FORMAT_VERSION

    defs: dict[str, Any] = {
        "hex_float": {"type": "string", "pattern": HEX_FLOAT.pattern,
                      "description": "a float as Python's float.hex() / C99 printf('%a'): exact"},
        "array": {
            "type": "object", "required": ["dtype", "shape", "data"], "additionalProperties": False,
            "description": "an array; data holds the elements in row-major (C) order",
            "properties": {
                "dtype": {"enum": list(DTYPES)},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "data": {"type": "array", "items": {"$ref": "#/$defs/hex_float"}},
            },
        },
        "tolerance": {
            "type": "object", "required": ["kind", "factor", "unit_roundoff", "reason", "atol"],
            "additionalProperties": False,
            "description": "|observed - values| <= atol elementwise; atol = factor * unit_roundoff * scale "
                           "(bnspec.spec.tolerances)",
            "properties": {
                "kind": {"type": "string"}, "factor": {"$ref": "#/$defs/hex_float"},
                "unit_roundoff": {"$ref": "#/$defs/hex_float"}, "reason": {"type": "string"},
                "atol": {"$ref": "#/$defs/array"},
            },
        },
        "output": {
            "type": "object", "required": ["name", "shape"], "additionalProperties": False,
            "description": "one returned array: its shape always, its dtype if given, its values if given",
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "dtype": {"enum": list(DTYPES)},
                "values": {"$ref": "#/$defs/array"},
                "tolerance": {"$ref": "#/$defs/tolerance"},
            },
            "dependentRequired": {"values": ["tolerance"], "tolerance": ["values"]},
        },
        "case": {
            "type": "object", "required": ["name", "seed", "call", "args", "expect"], "additionalProperties": False,
            "properties": {
                "name": {"type": "string"}, "seed": {"type": "integer"}, "call": {"enum": list(NAMES)},
                "args": {"type": "object", "additionalProperties": {
                    "oneOf": [{"$ref": "#/$defs/array"}, {"$ref": "#/$defs/hex_float"}]}},
                "expect": {"oneOf": [
                    {"type": "object", "required": ["outputs"], "additionalProperties": False,
                     "properties": {"outputs": {"type": "array", "items": {"$ref": "#/$defs/output"}}}},
                    {"type": "object", "required": ["raises"], "additionalProperties": False,
                     "properties": {"raises": {"type": "string", "pattern": "^[A-Za-z]+$",
                                               "description": "the name of the Python builtin exception "
                                                              "required (the profile's refusal of m = 1)"}}},
                ]},
            },
        },
        "common": {
            "type": "object", "required": ["format", "format_version", "layout"],
            "properties": {"format": {"const": FORMAT}, "format_version": {"const": FORMAT_VERSION},
                           "layout": {"const": "units_first"}},
        },
        "manifest": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "format", "format_version", "bnspec_version", "float_encoding", "layout",
                         "clauses", "profiles", "not_covered", "files"],
            "properties": {
                "kind": {"const": "manifest"}, "format": {}, "format_version": {}, "layout": {},
                "bnspec_version": {"type": "string"}, "float_encoding": {"type": "string"},
                "clauses": {"type": "array", "items": {"type": "string", "pattern": CLAUSE_ID}},
                "profiles": {"type": "array", "items": {"type": "string"}},
                "not_covered": {"type": "object", "additionalProperties": {"type": "string"}},
                "files": {"type": "array", "items": {
                    "type": "object", "required": ["path", "clause", "profile", "cases", "sha256"],
                    "additionalProperties": False,
                    "properties": {"path": {"type": "string"}, "clause": {"type": "string", "pattern": CLAUSE_ID},
                                   "profile": {"type": ["string", "null"]}, "cases": {"type": "integer"},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
            },
        },
        "case_file": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "format", "format_version", "layout", "clause", "profile", "cases"],
            "properties": {
                "kind": {"const": "cases"}, "format": {}, "format_version": {}, "layout": {},
                "clause": {"type": "object", "required": ["id", "level", "title", "statement", "formula"],
                           "properties": {"id": {"type": "string", "pattern": CLAUSE_ID},
                                          "level": {"enum": ["MUST", "SHOULD"]}}},
                "profile": {"oneOf": [{"type": "null"}, {
                    "type": "object", "required": ["name", "momentum_weighs", "running_var", "single_example"],
                    "properties": {"name": {"type": "string"}, "momentum_weighs": {"enum": ["old", "new"]},
                                   "running_var": {"enum": ["biased", "unbiased"]},
                                   "single_example": {"enum": ["beta", "raises"]}}}]},
                "cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}},
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:bnspec:vectors:{FORMAT_VERSION}",
        "title": f"{FORMAT} format version {FORMAT_VERSION}: a manifest.json or a case file",
        "allOf": [{"$ref": "#/$defs/common"}],
        "oneOf": [{"$ref": "#/$defs/manifest"}, {"$ref": "#/$defs/case_file"}],
        "$defs": defs,
    }
