"""The instance's health for operations: readiness checks (``readiness``) and Prometheus metrics (``metrics``)."""
