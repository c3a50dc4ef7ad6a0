"""Entity-type names and the input error shared by the provider's modules (no Airflow import here)."""

from __future__ import annotations

from mlgit.errors import InvalidName
from mlgit.names import ENTITY_TYPES, entity_type, tag_name


class MLGitInputError(ValueError):
    """A task argument or connection field that cannot be used; a retry would not help."""


def plural_entity_type(value: str) -> str:
    """``dataset`` -> ``datasets``; raises MLGitInputError naming the accepted types."""
    try:
        return entity_type(value)  # the core owns the types and their singular forms
    except InvalidName:
        raise MLGitInputError(
            f"unknown entity type {value!r}; expected one of {list(ENTITY_TYPES)}"
        ) from None


def name_of_tag(tag: str) -> str:
    """``computer-vision__images__imagenet8__2`` -> ``imagenet8``."""
    return tag_name(tag)


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
