"""What an event's hash commits to: each personal value on its own, and its place.

An event's chain hash covers the SHA-256 of its payload in *committed form*:
the payload with every personal value (a phone number, a note, an income)
replaced by a salted digest of that value, and with the event's own id. A
purge later replaces the stored payload by exactly that committed form and
drops the salt: the personal data is gone, nothing left can be tried against
guessed values (the salt was random), and everything a purge keeps (amounts,
outcomes, dates) is still proven by the hash the event was written with. The
id in the committed form ties the event to its place in the log, so two
events swapped between chains no longer verify.

The stored payload says what it committed: ``seal = {"event": id, "salt":
..., "fields": [[path...], ...]}``, the fields as they were judged personal
when written, so a later change to what counts as personal never breaks an
old event's proof. Events written before this scheme carry no ``seal`` and
hash their payload's text as they always did.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import secrets
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

from .privacy import PERSONAL_COLUMNS, personal_data_paths

#: Values that hold nothing to withhold.
EMPTY = (None, "")

#: A withheld value in committed form: this prefix and a hex SHA-256.
WITHHELD = "sha256:"

Path = list[str | int]

#: Where a new event's salt comes from: random, so that the digests a purge
#: leaves cannot be tried against guesses. (A seam for documentation runs.)
new_salt: Callable[[], str] = functools.partial(secrets.token_hex, 16)


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
#: The canonical encoding of a value whose keys are in order already: no sorting.
_IN_ORDER = json.JSONEncoder(sort_keys=False, ensure_ascii=False, separators=(",", ":"))


def canonical_json(value: Any) -> str:
    """One text for one value: sorted keys, no spaces, UTF-8 kept as is."""
    return _CANONICAL.encode(value)


def personal_paths(payload: dict[str, Any], event_type: str) -> list[Path]:
    """Where ``payload`` holds personal data (not empty): table columns and event data keys."""
    paths: list[Path] = []
    for index, entry in enumerate(payload.get("rows") or []):
        personal = PERSONAL_COLUMNS.get(entry["table"], {})
        row = entry["row"]
        paths += [["rows", index, "row", k] for k in row if k in personal and row[k] not in EMPTY]
    data = payload.get("data") or {}
    for path in personal_data_paths(data, event_type):
        value: Any = data
        for key in path:
            value = value[key]
        if value not in EMPTY:
            paths.append(["data", *path])
    return paths


@functools.lru_cache(maxsize=1024)
def _path_text(path: tuple[str | int, ...]) -> str:
    return canonical_json(list(path))


def field_digest(salt: str, path: Path, value: Any) -> str:
    value_text = encode_basestring(value) if isinstance(value, str) else canonical_json(value)
    text = f"{salt}\0{_path_text(tuple(path))}\0{value_text}"
    return WITHHELD + hashlib.sha256(text.encode("utf-8")).hexdigest()


def seal(
    payload: dict[str, Any], event_type: str, event_id: int, salt: Callable[[], str]
) -> dict[str, Any]:
    """``payload`` as stored: with its seal (its id, and a new salt for its personal values)."""
    fields = personal_paths(payload, event_type)
    stamp: dict[str, Any] = {"event": event_id}
    if fields:
        stamp |= {"fields": fields, "salt": salt()}
    return {**payload, "seal": stamp}


def _parent_copied(form: dict[str, Any], path: Path) -> Any:
    """What holds the value at ``path``, copied along the way: the payload stays as it is."""
    parent: Any = form
    for step in path[:-1]:
        parent[step] = child = copy.copy(parent[step])
        parent = child
    return parent


def _parent_in_place(form: dict[str, Any], path: Path) -> Any:
    """What holds the value at ``path``, in the payload itself."""
    parent: Any = form
    for step in path[:-1]:
        parent = parent[step]
    return parent


def committed(stored: dict[str, Any], *, in_place: bool = False) -> dict[str, Any]:
    """The committed form of a sealed payload: each personal value by its digest, no salt.

    ``in_place``: made of ``stored`` itself, which is left taken apart: for a
    payload read only to be checked, this saves copying what leads to each value.
    """
    stamp = stored["seal"]
    if "salt" not in stamp:  # already committed (a purge withheld it), or nothing personal
        return {k: v for k, v in stored.items() if k != "redacted"}
    form: dict[str, Any] = {k: v for k, v in stored.items() if k != "seal"}
    parent_of = _parent_in_place if in_place else _parent_copied
    for path in stamp["fields"]:
        parent = parent_of(form, path)
        parent[path[-1]] = field_digest(stamp["salt"], path, parent[path[-1]])
    form["seal"] = {k: v for k, v in stamp.items() if k != "salt"}
    return form


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def payload_sha256(stored: dict[str, Any], text: str) -> str:
    """The digest an event's hash covers: its committed form's, or for a payload
    written before seals, its stored text's."""
    if "seal" not in stored:
        return _sha256(text)
    return _sha256(canonical_json(committed(stored)))


def matches_sha256(stored: dict[str, Any], text: str, recorded: str) -> bool:
    """Whether ``stored``, read from ``text``, has the digest ``recorded``
    (:func:`payload_sha256`). ``stored`` is left taken apart: read it only to check it.

    Two shortcuts, each taken only where its text hashes as recorded:

    - A payload with nothing withheld and no salt is its own committed form,
      and its text as written is that form's canonical text: the text itself
      is hashed, nothing is encoded again.
    - A payload read from its canonical text has every object's keys in order,
      and its committed form keeps them so (the seal, last in order, is put
      back last): it is encoded as it stands, without sorting.

    Otherwise (a different text, or the same value written otherwise) the
    committed form's canonical text is hashed, as it always was. So a quick
    "yes" stands for a full "yes" but in one case: a text that hashes as
    recorded yet is not canonical, which nothing writes. The recorded digest
    is then not the one the event was written with, and the event's own hash,
    which covers it, fails; unless the chain was written again from there,
    which no check of the log can tell.
    """
    if "seal" not in stored:
        return _sha256(text) == recorded
    if "salt" not in stored["seal"] and "redacted" not in stored and _sha256(text) == recorded:
        return True
    form = committed(stored, in_place=True)
    if _sha256(_IN_ORDER.encode(form)) == recorded:
        return True
    return _sha256(canonical_json(form)) == recorded


def withheld(stored: dict[str, Any]) -> dict[str, Any]:
    """What a purge keeps of a sealed payload: its committed form, marked redacted."""
    return {**committed(stored), "redacted": True}
