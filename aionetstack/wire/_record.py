"""A tiny base for the slotted parsed-header records of ``wire``.

Plain ``__slots__`` classes with a hand-written ``__init__`` are the cheapest
records CPython can build (parse paths create one per packet); this base only
adds value equality and a readable ``repr`` derived from ``__slots__``.
"""

from __future__ import annotations

from typing import Any


class Record:
    """Equality and repr over the ``__slots__`` of the concrete class."""

    __slots__ = ()

    def _fields(self) -> tuple[Any, ...]:
        values = []
        name: str
        for name in type(self).__slots__:
            value = getattr(self, name)
            if isinstance(value, memoryview | bytearray):
                value = bytes(value)
            values.append(value)
        return tuple(values)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._fields() == other._fields()

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None  # type: ignore[assignment]  # mutable records are not hashable

    def __repr__(self) -> str:
        parts = []
        name: str
        for name in type(self).__slots__:
            value = getattr(self, name)
            if isinstance(value, memoryview | bytearray | bytes):
                shown = bytes(value[:16]).hex()
                value = f"<{len(value)} bytes {shown}{'...' if len(value) > 16 else ''}>"
                parts.append(f"{name}={value}")
            else:
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
