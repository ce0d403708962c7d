"""alo185's domain, a package per feature, over its infrastructure (``core``); the ``alo185`` command (``cli``)."""
