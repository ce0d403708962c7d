"""The tree the project ships (``ivr/trees/default.yaml``): the first version, and the PBX's queues."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ivr.tree import Tree, load_yaml

DEFAULT_TREE_FILE = Path(__file__).parent / "trees" / "default.yaml"


def default_yaml() -> str:
    return DEFAULT_TREE_FILE.read_text(encoding="utf-8")


@cache
def default_tree() -> Tree:
    return load_yaml(default_yaml())


def pbx_queues() -> dict[str, str]:
    """Queue name -> title for every queue the PBX is configured with."""
    return {name: q.title for name, q in default_tree().queues.items()}
