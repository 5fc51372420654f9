"""OpenAssistant message trees, as nested tree rows (``oasst``) or flat message rows (``oasst_messages``).

A tree becomes one conversation per root-to-leaf path (``oasst_mode="paths"``, the default) or only the
best-ranked path (``"best"``: the lowest ``rank`` at each level, unranked replies last). Deleted
messages (``deleted: true``) and their subtrees are left out, as OpenAssistant's own exports do.
The conversation id is the leaf message's id, so every path has a stable, unique id.

Write-back: one row per conversation holding the tree pruned to that path (a flat file is written back
as such path trees too), every message keeping all its fields and only its ``text`` updated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, Mapping

from aligntax.io.formats import (
    FormatAdapter,
    Parsed,
    RawRow,
    RowError,
    detect_row_format,
    normalize_role,
    register_format,
)
from aligntax.record import Conversation, Malformed, Turn

_ROLE_OUT = {"user": "prompter", "assistant": "assistant"}


def _rank(msg: Mapping[str, Any]) -> float:
    rank = msg.get("rank")
    return rank if isinstance(rank, (int, float)) else float("inf")


def _check_message(msg: Any, where: str) -> str:
    if not isinstance(msg, dict):
        raise RowError(f"wrong-type: {where} must be an object, got {type(msg).__name__}")
    if "text" not in msg:
        raise RowError(f"missing-field: {where}.text")
    if not isinstance(msg["text"], str):
        raise RowError(f"wrong-type: {where}.text must be a string, got {type(msg['text']).__name__}")
    return normalize_role(msg.get("role"), f"{where}.role")


def path_to_turns(path: list[Mapping[str, Any]]) -> list[Turn]:
    return [Turn(normalize_role(m.get("role"), "role"), m["text"]) for m in path]


def _updated(msg: Mapping[str, Any], turn: Turn) -> dict[str, Any]:
    out = dict(msg)
    out.pop("replies", None)
    if out.get("text") != turn.content:
        out["text"] = turn.content
    return out


def _nest(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    for parent, child in zip(nodes, nodes[1:]):
        parent["replies"] = [child]
    nodes[-1]["replies"] = []
    return nodes[0]


def _path_tree(conv: Conversation, path: list[Mapping[str, Any]] | None, tree_id: Any) -> dict[str, Any]:
    if conv.system:
        raise ValueError(f"{conv.id}: an OpenAssistant tree has no place for a system prompt")
    same_shape = path is not None and len(path) == len(conv.turns) and all(
        normalize_role(m.get("role"), "role") == t.role for m, t in zip(path, conv.turns))
    if same_shape:
        nodes = [_updated(m, t) for m, t in zip(path, conv.turns)]
    else:
        bad = [t.role for t in conv.turns if t.role not in _ROLE_OUT]
        if bad:
            raise ValueError(f"{conv.id}: an OpenAssistant tree holds only prompter/assistant turns, not {bad[0]!r}")
        nodes = [{"role": _ROLE_OUT[t.role], "text": t.content} for t in conv.turns]
    return {"message_tree_id": tree_id if tree_id is not None else conv.id, "prompt": _nest(nodes)}


@register_format("oasst")
class OasstTreeFormat(FormatAdapter):
    description = "OpenAssistant tree export: message_tree_id + prompt={text, role, replies:[...], rank}"
    priority = 5

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "prompt" in row and ("message_tree_id" in row or (isinstance(row["prompt"], dict) and "replies" in row["prompt"]))

    def _walk(self, node: Any, where: str, trail: list[int]) -> Iterator[tuple[list[Any], list[int]]]:
        _check_message(node, where)
        replies = node.get("replies") or []
        if not isinstance(replies, list):
            raise RowError(f"wrong-type: {where}.replies must be a list, got {type(replies).__name__}")
        live = [(i, r) for i, r in enumerate(replies) if not (isinstance(r, dict) and r.get("deleted"))]
        if self.oasst_mode == "best" and live:
            live = [min(live, key=lambda ir: _rank(ir[1]) if isinstance(ir[1], dict) else float("inf"))]
        if not live:
            yield [node], trail
            return
        for i, reply in live:
            for path, sub_trail in self._walk(reply, f"{where}.replies[{i}]", trail + [i]):
                yield [node] + path, sub_trail

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        parsed = []
        for path, trail in self._walk(row["prompt"], "prompt", []):
            leaf_id = path[-1].get("message_id")
            meta = {"oasst_path": trail, "message_tree_id": row.get("message_tree_id")}
            parsed.append(Parsed(None, path_to_turns(path), str(leaf_id) if leaf_id else None, meta))
        return parsed

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if conv.format != self.name or not isinstance(conv.raw, dict):
            return _path_tree(conv, None, None)
        node, path = conv.raw["prompt"], [conv.raw["prompt"]]
        for i in conv.meta.get("oasst_path", []):
            node = node["replies"][i]
            path.append(node)
        return {**conv.raw, **_path_tree(conv, path, conv.raw.get("message_tree_id"))}


@register_format("oasst_messages")
class OasstMessagesFormat(FormatAdapter):
    description = ("OpenAssistant flat messages: message_id / parent_id / role / text / rank / message_tree_id, "
                   "one row per message, rows of a tree contiguous")
    priority = 6

    @staticmethod
    def detect(row: Mapping[str, Any]) -> bool:
        return "message_id" in row and "parent_id" in row and "text" in row and "role" in row

    def to_conversations(self, row: Mapping[str, Any]) -> list[Parsed]:
        raise RowError("oasst_messages: a single message row is not a conversation; rows are read per tree")

    def iter_records(self, rows: Iterable[RawRow]) -> Iterator[Conversation | Malformed]:
        group: list[RawRow] = []
        current: Any = object()
        for raw in rows:
            if raw.error is not None:
                yield raw.malformed()
                continue
            row = raw.row
            if not isinstance(row, dict) or not self.detect(row):
                other = detect_row_format(row)
                yield raw.malformed(f"format-mismatch: row {'looks like ' + other if other else 'is not an oasst message'}"
                                    f", but this file is read as {self.name}")
                continue
            tree = row.get("message_tree_id")
            starts_tree = tree != current if tree is not None else row.get("parent_id") is None
            if starts_tree and group:
                yield from self._flush(group)
                group = []
            current = tree
            group.append(raw)
        if group:
            yield from self._flush(group)

    def _flush(self, group: list[RawRow]) -> Iterator[Conversation | Malformed]:
        by_id: dict[Any, RawRow] = {}
        children: dict[Any, list[RawRow]] = defaultdict(list)
        roots: list[RawRow] = []
        for raw in group:
            try:
                _check_message(raw.row, "message")
            except RowError as exc:
                yield raw.malformed(str(exc))
                continue
            if not raw.row.get("deleted"):
                by_id[raw.row["message_id"]] = raw
        all_ids = {raw.row.get("message_id") for raw in group if isinstance(raw.row, dict)}
        for raw in by_id.values():
            parent = raw.row.get("parent_id")
            if parent is None:
                roots.append(raw)
            elif parent in by_id:
                children[parent].append(raw)
            elif parent not in all_ids:  # a parent that is present but deleted drops its subtree quietly
                yield raw.malformed(f"oasst-orphan: parent {parent!r} of message {raw.row['message_id']!r} is not among "
                                    f"the rows of tree {raw.row.get('message_tree_id')!r} (are the tree's rows contiguous?)")
        for root in roots:
            for path in self._paths(root, children):
                yield self._conversation(path)

    def _paths(self, node: RawRow, children: Mapping[Any, list[RawRow]]) -> Iterator[list[RawRow]]:
        kids = children.get(node.row["message_id"], [])
        if self.oasst_mode == "best" and kids:
            kids = [min(kids, key=lambda r: _rank(r.row))]
        if not kids:
            yield [node]
            return
        for kid in kids:
            for path in self._paths(kid, children):
                yield [node] + path

    def _conversation(self, path: list[RawRow]) -> Conversation:
        leaf = path[-1]
        rows = [r.row for r in path]
        meta = {"oasst_path": [r.row["message_id"] for r in path], "message_tree_id": leaf.row.get("message_tree_id")}
        if leaf.line is not None:
            meta["line"] = leaf.line
        return Conversation(str(leaf.row["message_id"]), leaf.source, leaf.index, path_to_turns(rows), None,
                            self.name, 0, rows, None, meta)

    def is_untouched(self, conv: Conversation) -> bool:
        return False  # a path spans several rows: there is no single raw line to copy

    def from_conversation(self, conv: Conversation) -> dict[str, Any]:
        if conv.format != self.name or not isinstance(conv.raw, list):
            return _path_tree(conv, None, None)
        return _path_tree(conv, conv.raw, conv.meta.get("message_tree_id"))
