"""``aligntax inspect``: what is in these files, before any audit."""

from __future__ import annotations

import json
import random
from array import array
from collections import Counter
from typing import Any, Optional

import typer

from aligntax.cli import app
from aligntax.record import Conversation, Malformed

_PREVIEW_CHARS = 300
_SHOWN_MALFORMED = 5


class InspectStats:
    """Streaming summary of conversations: counts, role mix, length distributions, a seeded sample."""

    def __init__(self, sample: int, seed: int = 0) -> None:
        self.formats: Counter[str] = Counter()
        self.roles: Counter[str] = Counter()
        self.rows = 0
        self._last_row: tuple[str, int] | None = None
        self.sources: set[str] = set()
        self.conversations = 0
        self.with_system = 0
        self.turn_chars = array("q")
        self.conv_turns = array("q")
        self.malformed: list[Malformed] = []
        self.malformed_count = 0
        self.sample_size = sample
        self.sample: list[Conversation] = []
        self._rng = random.Random(seed)

    def add(self, item: Conversation | Malformed) -> None:
        self.sources.add(item.source)
        if (item.source, item.index) != self._last_row:  # a row's conversations arrive together
            self.rows += 1
            self._last_row = (item.source, item.index)
        if isinstance(item, Malformed):
            self.malformed_count += 1
            if len(self.malformed) < _SHOWN_MALFORMED:
                self.malformed.append(item)
            return
        self.conversations += 1
        self.formats[item.format or "?"] += 1
        self.with_system += item.system is not None
        self.conv_turns.append(len(item.turns))
        for turn in item.turns:
            self.roles[turn.role] += 1
            self.turn_chars.append(len(turn.content))
        # Reservoir sampling: a uniform, reproducible sample without holding the data.
        if len(self.sample) < self.sample_size:
            self.sample.append(item)
        else:
            j = self._rng.randrange(self.conversations)
            if j < self.sample_size:
                self.sample[j] = item

    @staticmethod
    def distribution(values: array) -> dict[str, float]:
        import numpy as np

        if not len(values):
            return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        arr = np.frombuffer(values, dtype=np.int64)
        return {"mean": round(float(arr.mean()), 2), "p50": float(np.percentile(arr, 50)),
                "p95": float(np.percentile(arr, 95)), "max": float(arr.max())}

    def summary(self) -> dict[str, Any]:
        return {
            "sources": len(self.sources),
            "formats": dict(self.formats.most_common()),
            "rows": self.rows,
            "conversations": self.conversations,
            "turns": len(self.turn_chars),
            "with_system_prompt": self.with_system,
            "roles": dict(self.roles.most_common()),
            "chars_per_turn": self.distribution(self.turn_chars),
            "turns_per_conversation": self.distribution(self.conv_turns),
            "malformed": self.malformed_count,
            "malformed_examples": [m.message() for m in self.malformed],
        }


def _render(stats: InspectStats) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    console = Console()
    s = stats.summary()
    overview = Table(title="aligntax inspect", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("format", ", ".join(f"{k} ({v:,})" for k, v in s["formats"].items()) or "-")
    overview.add_row("sources", f"{s['sources']:,}")
    overview.add_row("rows", f"{s['rows']:,}")
    overview.add_row("conversations", f"{s['conversations']:,}")
    overview.add_row("turns", f"{s['turns']:,}")
    overview.add_row("roles", ", ".join(f"{k} {v:,}" for k, v in s["roles"].items()) or "-")
    overview.add_row("with system prompt", f"{s['with_system_prompt']:,}")
    overview.add_row("malformed", f"[{'red' if s['malformed'] else 'green'}]{s['malformed']:,}[/]")
    console.print(overview)

    lengths = Table(title="lengths", title_justify="left")
    lengths.add_column("")
    for col in ("mean", "p50", "p95", "max"):
        lengths.add_column(col, justify="right")
    for label, key in (("chars per turn", "chars_per_turn"), ("turns per conversation", "turns_per_conversation")):
        d = s[key]
        lengths.add_row(label, *(f"{d[c]:,.1f}" if c == "mean" else f"{d[c]:,.0f}" for c in ("mean", "p50", "p95", "max")))
    console.print(lengths)

    for message in s["malformed_examples"]:
        console.print(f"[red]malformed[/] {escape(message)}", highlight=False, soft_wrap=True)
    for conv in stats.sample:
        body = []
        if conv.system:
            body.append(f"[dim]system:[/] {_preview(conv.system)}")
        body += [f"[bold]{t.role}:[/] {_preview(t.content)}" for t in conv.turns]
        # Format and size first: long ids (file paths) are what gets cut when the title is too wide.
        console.print(Panel("\n".join(body), title=f"[dim]{conv.format} · {len(conv.turns)} turns ·[/] {escape(conv.id)}",
                            title_align="left"))


def _preview(text: str) -> str:
    from rich.markup import escape

    text = text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + " …"
    return escape(text)


@app.command()
def inspect(
    paths: list[str] = typer.Argument(..., help="Files, globs, directories or a Hugging Face dataset id."),
    format: Optional[str] = typer.Option(None, "--format", "-f", help="Read as this format instead of detecting it."),
    sample: int = typer.Option(3, "--sample", "-n", min=0, help="Conversations to show (a seeded random sample)."),
    on_error: str = typer.Option("quarantine", "--on-error", help="Bad rows: quarantine (count them), skip, or fail."),
    hh_side: str = typer.Option("chosen", "--hh-side", help="HH transcripts: chosen, rejected or both."),
    oasst_mode: str = typer.Option("paths", "--oasst-mode", help="OpenAssistant trees: every path, or the best one."),
    max_line_bytes: int = typer.Option(32 * 1024 * 1024, "--max-line-bytes", help="Longer JSONL lines are malformed."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Stop after this many records."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON instead of tables."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
) -> None:
    """Show the detected format, counts, role mix, length statistics, malformed rows and a sample."""
    from aligntax.io import read_conversations

    try:
        records = read_conversations(paths, format=format, on_error=on_error, limit=limit, progress=progress and not as_json,
                                     hh_side=hh_side, oasst_mode=oasst_mode, max_line_bytes=max_line_bytes)
        stats = InspectStats(sample)
        for item in records:
            stats.add(item)
    except ValueError as exc:  # bad option values
        raise typer.BadParameter(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(stats.summary(), indent=2))
    else:
        _render(stats)
