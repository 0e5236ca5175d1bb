"""Mail (.eml, .msg): the message through unstructured without its attachments, then each attachment on its
own, so that one the parser cannot read (audio, say) is skipped with a note instead of failing the mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

MAX_ATTACHMENTS = 50


def attachments(path: Path, kind: str) -> Iterator[tuple[str, bytes]]:
    """(file name, bytes) of each attachment of a mail file."""
    if kind == ".msg":
        from oxmsg import Message

        for attachment in Message.load(str(path)).attachments:
            if attachment.attached_by_value and attachment.file_bytes:
                yield attachment.file_name or "attachment", attachment.file_bytes
        return
    from email import policy
    from email.parser import BytesParser

    with open(path, "rb") as handle:
        message = BytesParser(policy=policy.default).parse(handle)
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        if payload:
            yield part.get_filename() or f"attachment.{part.get_content_subtype()}", payload


def safe_name(name: str, number: int) -> str:
    """An attachment's name made safe to write inside the parser's own folder (never a path)."""
    base = re.sub(r"[^\w.\- ]", "_", Path(name.replace("\\", "/")).name).strip(". ") or "attachment"
    return f"{number:02}-{base[:120]}"
