"""The built-in rule on what may be attached to a case.

- ``default.attachments``: a file attached (``attach``) must be at most
  ``attachment_max_bytes`` (policy, default 20 MB) and of one of the
  ``attachment_types`` (default JPEG, PNG, HEIC and WebP photos, PDF documents),
  its type told from its bytes, never from its name: a script renamed
  ``photo.jpg`` is what its bytes say it is.

The reasons name no file: they are kept in the refusal event, where a file's
name (personal) would not be withheld; the command says which file was refused.
What is attached, and how, is :mod:`fieldcase.attachments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fieldcase import hookimpl
from fieldcase.model import ActionContext, Case, Decision
from fieldcase.policy import default


def size_text(size: int) -> str:
    """A size as people read it: ``812 bytes``, ``48.2 kB``, ``20 MB`` (decimal units)."""
    if size < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


@hookimpl
def check_action(
    case: Case | None, action: str, context: ActionContext, settings: Mapping[str, Any]
) -> Decision | None:
    # A dry run (fieldcase check --action attach) has no file to judge.
    if case is None or action != "attach" or "size" not in context.extra:
        return None
    size = int(context.extra["size"])
    media_type = str(context.extra.get("media_type") or "")
    most = int(settings.get("attachment_max_bytes", default("attachment_max_bytes")))
    allowed = list(settings.get("attachment_types", default("attachment_types")))
    if media_type not in allowed:
        what = (
            f"the file's bytes are {media_type}"
            if media_type
            else "the file's bytes are of no type fieldcase recognises"
        )
        return Decision.deny(
            "default.attachments",
            f"{what}, not one of the types that may be attached "
            f"({', '.join(allowed) or 'none'}; policy attachment_types): attach it as one "
            "of those (a scan as PDF, a photo as JPEG)",
        )
    if size > most:
        return Decision.deny(
            "default.attachments",
            f"the file is {size_text(size)}; at most {size_text(most)} may be attached "
            "(policy attachment_max_bytes): attach a smaller copy",
        )
    return Decision.allow("default.attachments")
