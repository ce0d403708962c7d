"""The AMI side: live queue state, service level, call events (panoramisk, asyncio)."""
