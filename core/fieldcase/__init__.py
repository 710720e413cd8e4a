"""fieldcase: field-verification case management for lenders and collection teams."""

import pluggy

__version__ = "0.1.0"

#: The marker a plugin uses for its hook implementations: ``@hookimpl``.
hookimpl = pluggy.HookimplMarker("fieldcase")

__all__ = ["__version__", "hookimpl"]
