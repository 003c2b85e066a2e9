"""Events a TcpConnection reports to its owner (pulled with ``next_event()``).

Theory of operation
-------------------
Events are small frozen slotted attrs records, in the style of h11 and aioquic.
They are queued by the engine as protocol input is processed and pulled by the
driver. Their emission rules (see docs/INTERNALS.md):

* ``Connected`` once, when the handshake completes (ESTABLISHED).
* ``DataAvailable`` at most once between two ``read()`` calls.
* ``EofReceived`` once, after all data before the peer's FIN is readable.
* ``SendSpace`` at most once per ``packets_to_send`` call, when acknowledged
  data freed send-queue space.
* ``ConnectionClosed`` exactly once, when the connection is over for the
  application (reset, timeout, refused, aborted, or both directions done).
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class Connected:
    """The three-way handshake completed."""


@attrs.frozen(slots=True)
class DataAvailable:
    """In-order data is ready for ``read()``."""


@attrs.frozen(slots=True)
class EofReceived:
    """The peer's FIN was processed; everything before it is readable."""


@attrs.frozen(slots=True)
class SendSpace:
    """Acknowledged data left the send queue (``send_queued`` dropped)."""


@attrs.frozen(slots=True)
class ConnectionClosed:
    """The connection is over for the application.

    ``error`` is None for an orderly end (or a local abort), otherwise the
    terminal error (ConnectionResetError, ConnectionRefusedError, TimeoutError).
    """

    error: OSError | None = None


TcpEvent = Connected | DataAvailable | EofReceived | SendSpace | ConnectionClosed

# The field-less events are immutable: one instance each serves every
# connection (no allocation per segment on the keep-alive path).
DATA_AVAILABLE = DataAvailable()
SEND_SPACE = SendSpace()
