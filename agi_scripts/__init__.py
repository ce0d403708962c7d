"""The Asterisk-facing side of the IVR: the FastAGI server and its scripts (pyst2)."""
