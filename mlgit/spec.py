"""The `.spec` file: ``<top key>: {name, version, categories, mutability, manifest, ...}``.

The body is kept as the user wrote it (extra keys such as ``metadata:`` survive); reading
never rewrites the file (ML-Git did).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from . import yamlio
from .errors import SpecError
from .names import MUTABILITIES, SPEC_KEYS, check_name, parse_categories
from .objects import atomic_write


def spec_file(entity_dir: Path, name: str) -> Path:
    return entity_dir / f"{name}.spec"


def parse(data: bytes | str, entity_type: str, where: str, name: str | None = None) -> dict[str, Any]:
    """Validate a spec document and return its body (the mapping under the top key)."""
    try:
        doc = yamlio.loads(data)
    except Exception as exc:  # yaml.YAMLError, UnicodeDecodeError
        raise SpecError(f"spec {where}: malformed YAML ({' '.join(str(exc).split())[:200]})") from exc
    key = SPEC_KEYS[entity_type]
    if not isinstance(doc, dict) or not isinstance(doc.get(key), dict):
        found = list(doc) if isinstance(doc, dict) else type(doc).__name__
        raise SpecError(f"spec {where}: expected a top-level '{key}:' mapping, found {found}")
    body: dict[str, Any] = doc[key]
    spec_name = body.get("name")
    if not isinstance(spec_name, str):
        raise SpecError(f"spec {where}: expected 'name' to be a string, found {spec_name!r}")
    check_name(spec_name)
    if name is not None and spec_name != name:
        raise SpecError(f"spec {where}: expected name {name!r}, found {spec_name!r}")
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SpecError(f"spec {where}: expected 'version' to be a positive integer, found {version!r}")
    cats = body.get("categories")
    if not isinstance(cats, list) or not cats:
        raise SpecError(f"spec {where}: expected 'categories' to be a non-empty list, found {cats!r}")
    try:
        parse_categories([str(c) for c in cats])
    except Exception as exc:
        raise SpecError(f"spec {where}: {exc}") from exc
    mut = body.get("mutability", "strict")
    if mut not in MUTABILITIES:
        raise SpecError(f"spec {where}: expected mutability strict, flexible or mutable, found {mut!r}")
    manifest = body.get("manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("storage"), str):
        raise SpecError(f"spec {where}: expected 'manifest: {{storage: TYPE://BUCKET}}', found {manifest!r}")
    metrics = body.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise SpecError(f"spec {where}: expected 'metrics' to be a mapping, found {metrics!r}")
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(
                f"spec {where}: expected metric {str(key)[:60]!r} to be a number, found {str(value)[:60]!r}"
            )
    return body


def load(path: Path, entity_type: str, name: str | None = None) -> dict[str, Any]:
    try:
        data = yamlio.read_bounded(path, "spec", SpecError, yamlio.MAX_SMALL)
    except FileNotFoundError:
        raise SpecError(f"spec {path} is missing (expected <entity folder>/<name>.spec)") from None
    return parse(data, entity_type, str(path), name)


def dumps(entity_type: str, body: dict[str, Any]) -> bytes:
    return yamlio.dumps({SPEC_KEYS[entity_type]: body}).encode()


def save(path: Path, entity_type: str, body: dict[str, Any]) -> None:
    atomic_write(path, dumps(entity_type, body))


def tag_parts(body: dict[str, Any]) -> tuple[list[str], str, int]:
    return [str(c) for c in body["categories"]], str(body["name"]), int(body["version"])


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    new = copy.deepcopy(body)
    for key, value in changes.items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    return new


def natural_size(n: int) -> str:
    """Sizes as ML-Git writes them in specs (``humanize.naturalsize``: ``21 Bytes``, ``2.5 MB``)."""
    if n == 1:
        return "1 Byte"
    if n < 1000:
        return f"{n} Bytes"
    value = float(n)
    suffix = "kB"
    for suffix in ("kB", "MB", "GB", "TB", "PB", "EB"):  # noqa: B007 - the last suffix tried is the one
        value /= 1000.0
        if value < 1000:
            break
    return f"{value:.1f} {suffix}"
