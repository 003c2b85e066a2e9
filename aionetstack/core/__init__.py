"""aionetstack.core."""
