"""Type stub for the compiled core (``aionetstack/_accel.pyx``)."""

from collections.abc import Sequence
from typing import Any, TypeAlias

_BytesLike: TypeAlias = bytes | bytearray | memoryview

def ones_sum(data: _BytesLike, initial: int = 0) -> int: ...
def siphash24(key: _BytesLike, data: _BytesLike) -> int: ...
def build_ipv4_tcp(
    src: int,
    dst: int,
    ident: int,
    ttl: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: _BytesLike,
    payload: _BytesLike,
) -> bytes: ...
def build_ipv6_tcp(
    src: int,
    dst: int,
    flow_label: int,
    hop_limit: int,
    src_port: int,
    dst_port: int,
    seq: int,
    ack: int,
    flags: int,
    window: int,
    options: _BytesLike,
    payload: _BytesLike,
) -> bytes: ...

class Ipv6TcpBuilder:
    flow_label: int
    def __init__(self, flow_label: int) -> None: ...
    def __call__(
        self,
        src: int,
        dst: int,
        ident: int,
        hop_limit: int,
        src_port: int,
        dst_port: int,
        seq: int,
        ack: int,
        flags: int,
        window: int,
        options: _BytesLike,
        payload: _BytesLike,
    ) -> bytes: ...

def register_segment(cls: type, names: tuple[str, ...]) -> None: ...
def parse_tcp(buf: _BytesLike, src: int | None = None, dst: int | None = None) -> Any: ...
def write_packets(fd: int, packets: Sequence[bytes], start: int = 0) -> tuple[int, int]: ...
