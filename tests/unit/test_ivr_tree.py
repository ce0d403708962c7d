"""Tree validation refuses what would strand or confuse a caller; versions are kept and go live at once."""

from __future__ import annotations

import copy
import itertools

import pytest
import yaml

from alo185.menu import versions
from ivr.default import default_tree, default_yaml
from ivr.tree import TreeError, load_yaml, parse, validate


def _raw() -> dict:
    return copy.deepcopy(yaml.safe_load(default_yaml()))


def _errors(raw: dict, pbx_queues: set[str] | None = None) -> list[str]:
    return validate(parse(raw), pbx_queues)


def test_the_default_tree_is_valid() -> None:
    assert validate(default_tree(), set(default_tree().queues)) == []


def test_dead_end_is_refused() -> None:
    raw = _raw()
    raw["nodes"]["water"]["options"] = {}
    assert any("dead end" in e for e in _errors(raw))


def test_unreachable_node_is_refused() -> None:
    raw = _raw()
    raw["nodes"]["orphan"] = {"prompt": "water_menu", "options": {"1": "operator"}}
    assert any("'orphan' is unreachable" in e for e in _errors(raw))


def test_missing_prompt_or_translation_is_refused() -> None:
    raw = _raw()
    raw["nodes"]["water"]["prompt"] = "no_such_prompt"
    assert any("prompt 'no_such_prompt' is missing" in e for e in _errors(raw))
    raw = _raw()
    del raw["prompts"]["zabita_menu"]["ar"]
    assert any("'zabita_menu' has no ar text" in e for e in _errors(raw))
    raw = _raw()
    del raw["prompts"]["digit_7"]
    assert any("'digit_7' is missing" in e for e in _errors(raw))


def test_unknown_queue_is_refused() -> None:
    raw = _raw()
    raw["nodes"]["main"]["options"]["2"] = {"queue": "nowhere"}
    assert any("queue 'nowhere' does not exist" in e for e in _errors(raw))
    raw = _raw()
    raw["queues"]["yeni"] = {"title": "Not in the PBX"}
    assert any("'yeni' does not exist in the PBX" in e for e in _errors(raw, set(default_tree().queues)))


def test_depth_over_four_is_refused() -> None:
    raw = _raw()
    chain = ["water", "d3", "d4", "d5"]
    for parent, child in itertools.pairwise(chain):
        raw["nodes"][parent]["options"]["4"] = f"goto:{child}"
        raw["nodes"][child] = {"prompt": "water_menu", "options": {"1": "operator"}}
    errors = _errors(raw)
    assert errors == ["node 'd5' is at depth 5 (at most 4)"]


def test_malformed_trees_are_refused_with_every_reason() -> None:
    with pytest.raises(TreeError, match="not valid YAML"):
        load_yaml("root: [")
    with pytest.raises(TreeError) as err:
        parse(
            {
                "root": "main",
                "nodes": {"main": {"prompt": "x", "options": {"x": "operator"}}},
                "queues": {"q": {"hours": {"someday": "08:00-17:00"}}},
            }
        )
    assert len(err.value.errors) == 2
    raw = _raw()
    raw["nodes"]["main"]["options"]["2"] = "teleport:mars"
    raw["nodes"]["main"]["options"]["3"] = "goto:nowhere"
    assert len(_errors(raw)) == 2


def test_publish_keeps_every_version_and_the_newest_is_live(sessions) -> None:
    live = versions.LiveTree(check_s=0)
    first_id, first = live.get(sessions.begin)  # seeds the default
    assert first == default_tree()
    changed = default_yaml().replace('"9": operator', '"9": {queue: temizlik}')
    with sessions.begin() as s:
        versions.publish(s, changed, by="admin", note="9 temizliğe")
    second_id, second = live.get(sessions.begin)
    with sessions() as s:
        assert second_id == first_id + 1 and second.node("main").options["9"].target == "temizlik"
        assert [v.id for v in versions.history(s)] == [second_id, first_id]


def test_a_refused_tree_changes_nothing(sessions) -> None:
    with sessions.begin() as s:
        versions.ensure_seeded(s)
    bad = default_yaml().replace('"9": operator', '"9": {queue: yok}')
    with sessions.begin() as s, pytest.raises(TreeError, match="'yok' does not exist"):
        versions.publish(s, bad, by="admin")
    with sessions() as s:
        assert len(versions.history(s)) == 1


def test_action_mappings_do_not_depend_on_key_order() -> None:
    raw = _raw()
    raw["nodes"]["main"]["options"]["2"] = {"category": "otobus-sefer", "priority": 3, "queue": "ulasim"}
    action = parse(raw).node("main").options["2"]
    assert (action.kind, action.target, action.category, action.priority) == ("queue", "ulasim", "otobus-sefer", 3)
    raw["nodes"]["main"]["options"]["2"] = {"queue": "ulasim", "voicemail": None}
    with pytest.raises(TreeError, match="exactly one"):
        parse(raw)
