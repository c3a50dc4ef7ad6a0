"""Entity-type names and the input error shared by the provider's modules (no Airflow import here)."""

from __future__ import annotations

ENTITY_TYPES = ("datasets", "labels", "models")
_SINGULAR = {"dataset": "datasets", "label": "labels", "model": "models"}


class MLGitInputError(ValueError):
    """A task argument or connection field that cannot be used; a retry would not help."""


def plural_entity_type(entity_type: str) -> str:
    """``dataset`` -> ``datasets``; raises MLGitInputError naming the accepted types."""
    value = str(entity_type).strip().lower()
    value = _SINGULAR.get(value, value)
    if value not in ENTITY_TYPES:
        raise MLGitInputError(f"unknown entity type {entity_type!r}; expected one of {list(ENTITY_TYPES)}")
    return value


def name_of_tag(tag: str) -> str:
    """``computer-vision__images__imagenet8__2`` -> ``imagenet8``."""
    parts = tag.split("__")
    return parts[-2] if len(parts) >= 2 else tag


def optional_int(value: object, what: str) -> int | None:
    """A templated integer argument: None for empty/None, else an int, else MLGitInputError."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    if isinstance(value, bool):
        raise MLGitInputError(f"{what}: expected a positive integer, found {value!r}")
    try:
        return int(str(value).strip())
    except ValueError:
        raise MLGitInputError(f"{what}: expected a positive integer, found {value!r}") from None


def flag(value: object, what: str) -> bool:
    """A templated boolean argument: a bool, or rendered text such as ``True`` / ``false`` / ``1``."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", "", "none"):
        return False
    raise MLGitInputError(f"{what}: expected true or false, found {value!r}")
