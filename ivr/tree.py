"""Menu trees as data: parsing from YAML/dicts, and the validation that guards publishing.

A tree has prompts (one text per language), queues (with opening hours), and nodes. A node
plays its prompt and maps keys to actions; ``timeout`` and ``invalid`` say what happens
when nothing or a wrong key is pressed, after ``retries`` repeats. ``0`` (operator),
``*`` (back) and ``#`` (repeat) work in every menu node without being listed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

LANGUAGES = ("tr", "en", "ar")
MAX_DEPTH = 4
ACTIONS = ("goto", "queue", "voicemail", "ticket_status", "operator", "hangup")
GLOBAL_KEYS = {"0": "operator", "*": "back", "#": "repeat"}
DIGIT_KEYS = set("0123456789*#")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TICKET_STATUSES = (
    "received",
    "sent_to_directorate",
    "in_progress",
    "resolved",
    "redirected",
    "cannot_be_done",
    "closed",
)
PLATFORM_ROLES = ("muhtar", "esnaf", "meclis_uyesi")
# Prompts the flow itself plays, whatever the menu nodes are.
# Played by the dialplan's voicemail step, in the caller's language (the IVR passes their files).
VOICEMAIL_PROMPTS = ("voicemail_intro", "voicemail_review", "voicemail_saved")
# A message that could not be recorded (ivr/engine.py, recording_failed): the caller is told, then offered
# a callback or an operator.
VOICEMAIL_FAILED_PROMPTS = ("voicemail_failed", "voicemail_failed_offer")
# Played by the post-call survey (ivr/survey.py).
SURVEY_PROMPTS = ("survey_question", "survey_comment", "survey_thanks", "survey_opted_out")
# The overflow offer (ivr/engine.py): the wait ("{minutes}" in it is spoken as the number of minutes),
# or that nobody can answer; the choice; the confirmation. Then, when an operator takes the callback:
# a notice to the operator before the citizen is dialled, and a greeting to the citizen who answers.
MINUTES = "{minutes}"
OVERFLOW_PROMPTS = ("overflow_wait", "overflow_busy", "overflow_offer", "callback_confirmed")
CALLBACK_PROMPTS = ("callback_notice", "callback_greeting")
# Nobody logged in to the queue (ivr/engine.py): that nobody can answer now, then 1 a callback once an
# operator is there, 2 or nothing voicemail; the confirmation is the overflow offer's.
NO_OPERATOR_OFFER_PROMPTS = ("overflow_busy", "no_operator_offer", "callback_confirmed")
SYSTEM_PROMPTS = (
    "kvkk",
    "language_tr",
    "language_en",
    "language_ar",
    "no_input",
    "invalid",
    "after_hours",
    "holiday",
    "no_operator",
    "no_operator_offer",
    *VOICEMAIL_PROMPTS,
    *VOICEMAIL_FAILED_PROMPTS,
    *SURVEY_PROMPTS,
    *OVERFLOW_PROMPTS,
    *CALLBACK_PROMPTS,
    "open_ticket",
    "enter_ticket",
    "enter_last4",
    "ticket_not_found",
    "too_many_tries",
    "ticket_is",
    "reopen_offer",
    "reopened",
    "reopen_refused",
    *(f"status_{s}" for s in TICKET_STATUSES),
    *(f"platform_{r}" for r in PLATFORM_ROLES),
    *(f"digit_{d}" for d in range(10)),
)


class TreeError(ValueError):
    """The tree cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Action:
    kind: str
    target: str = ""  # node id for goto, queue name for queue, prompt id for hangup
    category: str = ""
    priority: int = 0

    @classmethod
    def parse(cls, raw: Any) -> Action:
        if isinstance(raw, str):
            kind, _, target = raw.partition(":")
            return cls(kind=kind.strip(), target=target.strip())
        if isinstance(raw, dict):
            # {queue: su, category: su-arizasi}: the one key naming an action, whatever the key order.
            kinds = [k for k in raw if k in ACTIONS]
            if len(kinds) != 1:
                raise TreeError([f"an action mapping needs exactly one of {', '.join(ACTIONS)}: {raw!r}"])
            target = raw[kinds[0]]
            return cls(
                kind=kinds[0],
                target="" if target is None else str(target),
                category=str(raw.get("category", "")),
                priority=int(raw.get("priority", 0)),
            )
        raise TreeError([f"an action must be 'kind:target' or a mapping, not {raw!r}"])


@dataclass(frozen=True)
class Node:
    id: str
    prompt: str
    options: dict[str, Action] = field(default_factory=dict)
    timeout: Action = Action("operator")
    invalid: Action = Action("operator")
    retries: int = 2
    timeout_ms: int = 5000


@dataclass(frozen=True)
class Queue:
    name: str
    title: str
    # weekday -> list of (open "HH:MM", close "HH:MM"); empty dict means 24/7.
    hours: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    holidays_open: bool = False

    @property
    def always_open(self) -> bool:
        return not self.hours


@dataclass(frozen=True)
class Tree:
    root: str
    nodes: dict[str, Node]
    prompts: dict[str, dict[str, str]]
    queues: dict[str, Queue]
    kvkk_version: int = 1
    fallback_queue: str = "genel"
    platform_queues: dict[str, str] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


def load_yaml(text: str) -> Tree:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TreeError([f"not valid YAML: {exc}"]) from exc
    return parse(raw)


def parse(raw: Any) -> Tree:
    """Build a tree from plain data; raises TreeError for what is malformed (not yet validated)."""
    if not isinstance(raw, dict):
        raise TreeError(["the tree must be a mapping"])
    errors: list[str] = []
    nodes: dict[str, Node] = {}
    for node_id, spec in (raw.get("nodes") or {}).items():
        try:
            nodes[str(node_id)] = _parse_node(str(node_id), spec or {})
        except (TreeError, TypeError, ValueError) as exc:
            errors.append(f"node {node_id}: {exc}")
    queues = {}
    for name, spec in (raw.get("queues") or {}).items():
        try:
            queues[str(name)] = _parse_queue(str(name), spec or {})
        except (TypeError, ValueError) as exc:
            errors.append(f"queue {name}: {exc}")
    prompts = {
        str(k): {str(lang): str(t) for lang, t in (v or {}).items()} for k, v in (raw.get("prompts") or {}).items()
    }
    if errors:
        raise TreeError(errors)
    return Tree(
        root=str(raw.get("root", "")),
        nodes=nodes,
        prompts=prompts,
        queues=queues,
        kvkk_version=int(raw.get("kvkk_version", 1)),
        fallback_queue=str(raw.get("fallback_queue", "genel")),
        platform_queues={str(k): str(v) for k, v in (raw.get("platform_queues") or {}).items()},
        source=raw,
    )


def _parse_node(node_id: str, spec: dict[str, Any]) -> Node:
    options = {}
    for key, action in (spec.get("options") or {}).items():
        key = str(key)
        if key not in DIGIT_KEYS:
            raise TreeError([f"key {key!r} is not a phone key"])
        options[key] = Action.parse(action)
    return Node(
        id=node_id,
        prompt=str(spec.get("prompt", "")),
        options=options,
        timeout=Action.parse(spec.get("timeout", "operator")),
        invalid=Action.parse(spec.get("invalid", "operator")),
        retries=int(spec.get("retries", 2)),
        timeout_ms=int(spec.get("timeout_ms", 5000)),
    )


def _parse_queue(name: str, spec: dict[str, Any]) -> Queue:
    hours: dict[str, list[tuple[str, str]]] = {}
    for day, spans in (spec.get("hours") or {}).items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown weekday {day!r}")
        hours[day] = [_span(s) for s in (spans if isinstance(spans, list) else [spans])]
    return Queue(
        name=name, title=str(spec.get("title", name)), hours=hours, holidays_open=bool(spec.get("holidays_open", False))
    )


def _span(text: str) -> tuple[str, str]:
    start, _, end = str(text).partition("-")
    for part in (start, end):
        hh, _, mm = part.strip().partition(":")
        if not (hh.isdigit() and mm.isdigit() and 0 <= int(hh) <= 24 and 0 <= int(mm) < 60):
            raise ValueError(f"bad time span {text!r} (want 'HH:MM-HH:MM')")
    return start.strip(), end.strip()


def validate(tree: Tree, pbx_queues: set[str] | None = None) -> list[str]:
    """Every reason this tree must not be published; empty when it is fine.

    ``pbx_queues``: the queues the PBX has, when known; each queue the tree names must exist.
    """
    errors: list[str] = []
    if tree.root not in tree.nodes:
        errors.append(f"root node {tree.root!r} does not exist")
    known_queues = set(tree.queues) if pbx_queues is None else set(tree.queues) & pbx_queues
    for name in tree.queues:
        if pbx_queues is not None and name not in pbx_queues:
            errors.append(f"queue {name!r} does not exist in the PBX")
    for queue in {tree.fallback_queue, *tree.platform_queues.values()}:
        if queue not in known_queues:
            errors.append(f"queue {queue!r} does not exist")
    for role in tree.platform_queues:
        if role not in PLATFORM_ROLES:
            errors.append(f"unknown platform role {role!r} (one of {', '.join(PLATFORM_ROLES)})")
    for node in tree.nodes.values():
        errors.extend(_node_errors(tree, node, known_queues))
    errors.extend(_prompt_errors(tree))
    if tree.root in tree.nodes:
        depths = _depths(tree)
        for node_id in tree.nodes:
            if node_id not in depths:
                errors.append(f"node {node_id!r} is unreachable from {tree.root!r}")
        for node_id, depth in depths.items():
            if depth > MAX_DEPTH:
                errors.append(f"node {node_id!r} is at depth {depth} (at most {MAX_DEPTH})")
    return errors


def _node_actions(node: Node) -> list[tuple[str, Action]]:
    return [*((f"key {k}", a) for k, a in node.options.items()), ("timeout", node.timeout), ("invalid", node.invalid)]


def _node_errors(tree: Tree, node: Node, known_queues: set[str]) -> list[str]:
    errors = []
    if not node.options:
        errors.append(f"node {node.id!r} is a dead end: no key leads anywhere")
    if not node.prompt:
        errors.append(f"node {node.id!r} has no prompt")
    if node.retries < 0 or node.timeout_ms < 1000:
        errors.append(f"node {node.id!r}: retries must be >= 0 and timeout_ms >= 1000")
    for where, action in _node_actions(node):
        if action.kind not in ACTIONS:
            errors.append(f"node {node.id!r} {where}: unknown action {action.kind!r}")
        elif action.kind == "goto" and action.target not in tree.nodes:
            errors.append(f"node {node.id!r} {where}: goes to missing node {action.target!r}")
        elif action.kind == "goto" and action.target == node.id:
            errors.append(f"node {node.id!r} {where}: goes to itself (use # to repeat)")
        elif action.kind == "queue" and action.target not in known_queues:
            errors.append(f"node {node.id!r} {where}: queue {action.target!r} does not exist")
        elif action.kind == "hangup" and action.target and action.target not in tree.prompts:
            errors.append(f"node {node.id!r} {where}: missing prompt {action.target!r}")
    return errors


def _prompt_errors(tree: Tree) -> list[str]:
    errors = []
    used = {n.prompt for n in tree.nodes.values() if n.prompt} | set(SYSTEM_PROMPTS)
    for prompt_id in sorted(used):
        texts = tree.prompts.get(prompt_id)
        if texts is None:
            errors.append(f"prompt {prompt_id!r} is missing")
            continue
        for lang in LANGUAGES:
            if not texts.get(lang, "").strip():
                errors.append(f"prompt {prompt_id!r} has no {lang} text")
            elif prompt_id == "overflow_wait" and MINUTES not in texts[lang]:
                errors.append(f"prompt 'overflow_wait' ({lang}) must say the wait: put {MINUTES} in it")
    return errors


def _depths(tree: Tree) -> dict[str, int]:
    """Menu depth of each reachable node (root = 1), breadth first so each gets its shortest path."""
    depths = {tree.root: 1}
    frontier = [tree.root]
    while frontier:
        nxt = []
        for node_id in frontier:
            for _where, action in _node_actions(tree.nodes[node_id]):
                if action.kind == "goto" and action.target in tree.nodes and action.target not in depths:
                    depths[action.target] = depths[node_id] + 1
                    nxt.append(action.target)
        frontier = nxt
    return depths
