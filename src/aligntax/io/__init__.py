"""Reading SFT data in any common format into canonical ``Conversation``s, and writing it back.

    from aligntax.io import read_conversations, open_writer, open_rejected_writer

    with open_writer("clean.jsonl", like="alpaca", file_type="jsonl") as out, \\
         open_rejected_writer("rejected.jsonl") as rejected:
        for item in read_conversations(["data/"]):
            if isinstance(item, Malformed):
                rejected.write(item)
            else:
                out.write(item)

Formats are plug-ins in ``FORMATS`` (see ``aligntax.io.formats`` for the adapter contract and
docs/formats.md for every format, the detection rules and the error policy).
"""

from aligntax.io import formats_chat, formats_instruct, formats_reports, oasst  # noqa: F401  (register formats)
from aligntax.io.formats import FORMATS, FormatAdapter, Parsed, RowError, detect_format, detect_row_format
from aligntax.io.reader import read_conversations
from aligntax.io.sources import DEFAULT_MAX_LINE_BYTES, expand_paths
from aligntax.io.writers import ConversationWriter, RejectedWriter, open_rejected_writer, open_writer

__all__ = [
    "FORMATS",
    "DEFAULT_MAX_LINE_BYTES",
    "ConversationWriter",
    "FormatAdapter",
    "Parsed",
    "RejectedWriter",
    "RowError",
    "detect_format",
    "detect_row_format",
    "expand_paths",
    "open_rejected_writer",
    "open_writer",
    "read_conversations",
]
