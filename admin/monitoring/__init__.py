"""``/healthz``, ``/readyz`` and ``/metrics``: the monitoring's checks and figures, rendered."""
