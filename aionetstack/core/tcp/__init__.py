"""aionetstack.core.tcp."""
