"""The development harness: throw-away instances, a private PostgreSQL, softphones, simulated callers and operators,
the demo. Used by the tests, the benchmarks and ``alo185 demo``; no process of a running instance imports it."""
