"""What a name, a category and a workspace-relative path may be: checked once, before any I/O."""

from __future__ import annotations

import re

from .errors import InvalidName, UnsafePath

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ENTITY_TYPES = {
    "datasets": "datasets",
    "dataset": "datasets",
    "labels": "labels",
    "label": "labels",
    "models": "models",
    "model": "models",
}
SPEC_KEYS = {"datasets": "dataset", "labels": "labels", "models": "model"}
MUTABILITIES = ("strict", "flexible", "mutable")


def entity_type(value: str) -> str:
    try:
        return ENTITY_TYPES[str(value).strip().lower()]
    except KeyError:
        raise InvalidName(f"entity type: expected datasets, labels or models, found {value!r}") from None


def check_name(name: str, what: str = "entity name") -> str:
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or "__" in name
        or ".." in name
        or name.endswith((".", "_"))
    ):
        raise InvalidName(
            f"{what}: expected 1-100 characters of letters, digits, '.', '_', '-' (no '__', '..' or '/', "
            f"starting with a letter or digit, not ending in '.' or '_'), found {name!r}"
        )
    return name


def parse_categories(value: str | list[str] | tuple[str, ...]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    cats = [str(c).strip() for c in items if str(c).strip()]
    if not cats:
        raise InvalidName(f"categories: expected at least one category, found {value!r}")
    for cat in cats:
        check_name(cat, "category")
    return cats


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_relpath(path: str, where: str) -> str:
    """A workspace-relative POSIX path that cannot escape its root, or UnsafePath."""
    if not isinstance(path, str) or not path or _CONTROL.search(path):
        raise UnsafePath(f"{where}: expected a relative file path, found {path!r}")
    if "\\" in path:
        path = path.replace("\\", "/")  # ML-Git on Windows wrote backslashes
    if path[0] == "/" or (path[0].isalpha() and path[1:3] in (":", ":/")):  # '/x', 'C:', 'C:/x' (not 'x:y')
        raise UnsafePath(f"{where}: path {path!r} is absolute; expected a path inside the entity folder")
    parts = path.split("/")
    if ".." in parts or "" in parts or "." in parts:
        raise UnsafePath(
            f"{where}: path {path!r} escapes or is not normalized; expected a path inside the entity folder"
        )
    return path


def check_added_name(rel: str, full: str) -> str:
    """A file or folder name found in an entity folder by ``add``: refused (UnsafePath, naming it)
    unless every later verb can keep it apart from every other name and read it back: no backslash
    (ML-Git reads it as ``/``: ``a\\b`` and ``a/b`` would be one file), no control character (a
    newline breaks the manifest), valid UTF-8."""
    try:
        rel.encode("utf-8")  # undecodable bytes arrive as lone surrogates
    except UnicodeEncodeError:
        raise UnsafePath(f"{full!r}: name is not valid UTF-8; rename it") from None
    if "\\" in rel:
        raise UnsafePath(
            f"{full!r}: a backslash in a name is read as '/' by ML-Git (it would collide with "
            f"{rel.replace(chr(92), '/')!r}); rename it"
        )
    if _CONTROL.search(rel):
        raise UnsafePath(f"{full!r}: a control character (newline, tab, ...) in a name; rename it")
    return rel


def parse_tag(tag: str) -> tuple[list[str], str, int] | None:
    """``cat1__cat2__NAME__VERSION`` -> (categories, name, version); None if not a tag."""
    parts = tag.split("__")
    if len(parts) < 3 or not parts[-1].isdigit():
        return None
    return parts[:-2], parts[-2], int(parts[-1])


def make_tag(categories: list[str], name: str, version: int) -> str:
    return "__".join([*categories, name, str(version)])
