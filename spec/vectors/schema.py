"""The JSON Schema (draft 2020-12) of a set of golden vectors: the manifest and
the case files.  ``bnspec vectors export`` writes it beside the set as
``vectors.schema.json``; it is built here so that it ships with the package."""

from __future__ import annotations

from typing import Any

from ..process.codec import DTYPES as ARRAY_DTYPES
from ..process.codec import HEX_FLOAT
from ..protocol import NAMES

CLAUSE_ID = r"^[A-Z][A-Z0-9]*(-[A-Z][A-Z0-9]*)*-([0-9]+|REF)$"


def schema() -> dict[str, Any]:
    from . import DTYPES, FORMAT, FORMAT_VERSION, LAYOUTS

    defs: dict[str, Any] = {
        "hex_float": {"type": "string", "pattern": HEX_FLOAT.pattern,
                      "description": "a float as Python's float.hex() / C99 printf('%a'): exact"},
        "array": {
            "type": "object", "required": ["dtype", "shape", "data"], "additionalProperties": False,
            "description": "an array; data holds the elements in row-major (C) order",
            "properties": {
                "dtype": {"enum": list(ARRAY_DTYPES)},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
                "data": {"type": "array", "items": {"$ref": "#/$defs/hex_float"}},
            },
        },
        "tolerance": {
            "type": "object", "required": ["kind", "reason", "units", "atol"],
            "additionalProperties": False,
            "description": "|observed - values| <= atol elementwise, atol as the clause's property computes it "
                           "(bnspec.spec.tolerances: K(m) u scale; in float16 K(m) u_float32 scale plus a few "
                           "float16 roundings of the result)",
            "properties": {
                "kind": {"type": "string"}, "reason": {"type": "string"},
                "units": {"oneOf": [{"$ref": "#/$defs/hex_float"}, {"type": "null"}],
                          "description": "atol in units of machine epsilon x condition x scale (K(m) / 2), "
                                         "as bnspec check reports errors; null where atol is not of that form"},
                "atol": {"$ref": "#/$defs/array"},
            },
        },
        "output": {
            "type": "object", "required": ["name", "shape"], "additionalProperties": False,
            "description": "one returned array: its shape always, its dtype if given, its values if given",
            "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "dtype": {"enum": list(ARRAY_DTYPES)},
                "values": {"$ref": "#/$defs/array"},
                "tolerance": {"$ref": "#/$defs/tolerance"},
                "claim": {"type": "string", "description": "what the clause's property compares, in its words"},
            },
            "dependentRequired": {"values": ["tolerance", "claim"], "tolerance": ["values"], "claim": ["values"]},
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
            "type": "object", "required": ["format", "format_version"],
            "properties": {"format": {"const": FORMAT}, "format_version": {"const": FORMAT_VERSION}},
        },
        "manifest": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "format", "format_version", "bnspec_version", "float_encoding", "layouts",
                         "dtypes", "clauses", "profiles", "not_covered", "files"],
            "properties": {
                "kind": {"const": "manifest"}, "format": {}, "format_version": {},
                "bnspec_version": {"type": "string"}, "float_encoding": {"type": "string"},
                "layouts": {"type": "array", "items": {"$ref": "#/$defs/layout"}},
                "dtypes": {"type": "array", "items": {"enum": list(DTYPES)}},
                "clauses": {"type": "array", "items": {"type": "string", "pattern": CLAUSE_ID}},
                "profiles": {"type": "array", "items": {"type": "string"}},
                "not_covered": {"type": "object", "additionalProperties": {"type": "string"}},
                "files": {"type": "array", "items": {
                    "type": "object", "required": ["path", "clause", "profile", "dtype", "layout", "cases", "sha256"],
                    "additionalProperties": False,
                    "properties": {"path": {"type": "string"}, "clause": {"type": "string", "pattern": CLAUSE_ID},
                                   "profile": {"type": ["string", "null"]}, "dtype": {"enum": list(DTYPES)},
                                   "layout": {"$ref": "#/$defs/layout"}, "cases": {"type": "integer"},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
            },
        },
        "layout": {"enum": [layout.value for layout in LAYOUTS],
                   "description": "units_first: z (n, m), per-unit (n, 1); channels_first: z (N, C, *S); "
                                  "channels_last: z (N, *S, C); per-channel (C,)"},
        "case_file": {
            "type": "object", "additionalProperties": False,
            "required": ["kind", "format", "format_version", "layout", "dtype", "clause", "profile", "cases"],
            "properties": {
                "kind": {"const": "cases"}, "format": {}, "format_version": {}, "layout": {"$ref": "#/$defs/layout"},
                "dtype": {"enum": list(DTYPES), "description": "the dtype of the case's inputs"},
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
