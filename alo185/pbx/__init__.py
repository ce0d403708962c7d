"""The PBX the project owns: its configuration from the domain (``config``), the instance run with it (``control``)."""
