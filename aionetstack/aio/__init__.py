"""aionetstack.aio."""
