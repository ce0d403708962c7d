"""alo185: shared core (settings, models, event bus, processes, PBX, command line)."""
