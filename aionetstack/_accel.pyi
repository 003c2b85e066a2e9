"""Type stub for the compiled core (``aionetstack/_accel.pyx``)."""

from typing import TypeAlias

_BytesLike: TypeAlias = bytes | bytearray | memoryview

def ones_sum(data: _BytesLike, initial: int = 0) -> int: ...
def siphash24(key: _BytesLike, data: _BytesLike) -> int: ...
