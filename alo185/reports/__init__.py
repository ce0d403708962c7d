"""Figures the municipality reports on, as plain queries (the admin renders them)."""
