"""Open311 GeoReport v2 over HTTP: ``.json`` or ``.xml`` on every path, the spec's error list."""
