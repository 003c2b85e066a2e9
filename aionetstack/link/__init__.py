"""aionetstack.link."""
