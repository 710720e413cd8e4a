"""``fieldcase.toml``: a section per institution and per plugin."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import attrs

from .errors import InvalidInput

DEFAULT_PATH = "fieldcase.toml"


@attrs.frozen
class Config:
    """Parsed configuration. ``institutions`` and ``plugins`` map ids to their sections."""

    institutions: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    plugins: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    path: Path | None = None

    def settings(self, institution: str) -> Mapping[str, Any]:
        """The institution's section, read-only; empty when it has none."""
        return MappingProxyType(dict(self.institutions.get(institution, {})))

    def plugin(self, name: str) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.plugins.get(name, {})))


def load_config(path: str | Path | None = None) -> Config:
    """Load ``path``, else ``$FIELDCASE_CONFIG``, else ``./fieldcase.toml`` if present."""
    explicit = path is not None or "FIELDCASE_CONFIG" in os.environ
    chosen = Path(path or os.environ.get("FIELDCASE_CONFIG") or DEFAULT_PATH)
    if not chosen.exists():
        if explicit:
            raise InvalidInput(f"configuration file {chosen} does not exist")
        return Config()
    try:
        data = tomllib.loads(chosen.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{chosen}: {exc}") from None
    institutions = data.get("institutions", {})
    plugins = data.get("plugins", {})
    if not isinstance(institutions, dict) or not isinstance(plugins, dict):
        raise InvalidInput(f"{chosen}: [institutions] and [plugins] must be tables")
    return Config(institutions=institutions, plugins=plugins, path=chosen)
