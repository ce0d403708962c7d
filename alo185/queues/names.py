"""The queues the PBX is configured with: those of the menu the project ships (``ivr/trees/default.yaml``)."""

from __future__ import annotations

from ivr.default import default_tree


def pbx_queues() -> dict[str, str]:
    """Queue name -> title for every queue the PBX is configured with."""
    return {name: q.title for name, q in default_tree().queues.items()}
