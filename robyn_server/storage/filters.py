"""Filter semantics shared by every storage backend.

`json_contains` is the in-Python twin of Postgres' `jsonb @>`, so a metadata filter
means the same thing whichever backend answers it.
"""

from __future__ import annotations

from typing import Any


def _kind(value: Any) -> str:
    # bool before int: bool is an int subclass, but JSON true is not the number 1.
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def json_contains(container: Any, contained: Any) -> bool:
    """Whether `container` contains `contained`, with the rules of Postgres `jsonb @>`.

    Objects contain an object when every key of the contained one is present with a
    contained value (recursively); arrays contain an array when each contained element
    is contained by some element (order and duplicates do not matter); scalars must be
    equal and of the same JSON type, so `True` never matches `1` and `1` matches `1.0`.
    Unlike Postgres, a bare scalar is never contained by an array; metadata filters are
    always objects, where Postgres does not allow that either.

    Args:
        container: the stored JSON-like value.
        contained: the filter value.

    Returns:
        True when every part of `contained` is found in `container`.
    """
    kind = _kind(contained)
    if kind != _kind(container):
        return False
    if kind == "object":
        for key, value in contained.items():
            if key not in container or not json_contains(container[key], value):
                return False
        return True
    if kind == "array":
        return all(any(json_contains(item, wanted) for item in container) for wanted in contained)
    return bool(container == contained)
