"""Live queue state for the wallboard and the consoles: JSON, and a server-sent event stream."""
