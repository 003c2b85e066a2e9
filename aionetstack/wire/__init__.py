"""aionetstack.wire."""
