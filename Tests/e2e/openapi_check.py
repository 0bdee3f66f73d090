"""Validates raw response bodies against the official OpenAPI schemas, when ../shared/openai-openapi is present
(CI has it; a user's clone need not). The spec mixes OAS 3.0 idioms into a 3.1 document, so before validating
`nullable: true` becomes `anyOf [..., null]` and a boolean `exclusiveMinimum` becomes the 3.1 number form."""
import copy
import functools
from pathlib import Path

import jsonschema
import pytest
import yaml

SPEC = Path(__file__).resolve().parents[3] / "shared" / "openai-openapi" / "openapi.yaml"


@functools.lru_cache(maxsize=1)
def _spec():
    if not SPEC.exists():
        return None
    with open(SPEC) as f:
        return yaml.safe_load(f)


def _rewrite(node):
    if isinstance(node, dict):
        node = {k: _rewrite(v) for k, v in node.items()}
        if isinstance(node.get("exclusiveMinimum"), bool):
            if node.pop("exclusiveMinimum") and "minimum" in node:
                node["exclusiveMinimum"] = node.pop("minimum")
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
        return node
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


@functools.lru_cache(maxsize=None)
def _validator(name):
    spec = _spec()
    schemas = _rewrite(copy.deepcopy(spec["components"]["schemas"]))
    root = {"components": {"schemas": schemas}, "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(root)


def available():
    return _spec() is not None


def check(name, body, allow_paused=False):
    """Raises when `body` does not match components.schemas[name]; does nothing without the spec."""
    if not available():
        return
    if allow_paused and isinstance(body, dict) and body.get("status") == "paused":
        body = dict(body, status="queued")  # the spec's enum lacks "paused", although its pause example returns it
    errors = sorted(_validator(name).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        pytest.fail(f"{name}: " + "; ".join(f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]))
