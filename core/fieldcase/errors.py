"""Domain errors raised by services; the CLI maps them to exit codes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Decision


class FieldcaseError(Exception):
    """Base class: an error a person can act on, with a message that says how."""


class CaseNotFound(FieldcaseError):
    """No case matches the reference given."""


class StaffNotFound(FieldcaseError):
    """No staff member has the id given."""


class InstitutionNotFound(FieldcaseError):
    """No registered institution has the id given."""


class InvalidInput(FieldcaseError):
    """A value given to a service is malformed (bad amount, unknown code...)."""


class SettingError(InvalidInput):
    """A plugin's policy setting is refused, with the plugin's own reason.

    Raised by the ``parse`` function a plugin gives ``register_policy_settings``:
    ``raise SettingError("holidays must be dates of 2026 or later")``. The
    supervisor setting the key sees ``KEY: <reason>`` and nothing changes.
    (A plain ``ValueError`` is refused too, with the key's description.)
    """


class Refused(FieldcaseError):
    """An action was refused; only a refusal event was written."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(self.rule, str(self))]

    def explain(self) -> str:
        """The message with its rule, as shown to the person who was refused."""
        return f"{self} (rule {self.rule})"


class InvalidTransition(Refused):
    """The action is not allowed in the case's current stage or state."""


class NotPermitted(Refused):
    """The acting staff member may not perform this action on this case."""


class PolicyDenied(Refused):
    """One or more ``check_action``/``case_eligible`` implementations said no."""

    def __init__(self, decisions: Sequence[Decision]) -> None:
        self.decisions = list(decisions)
        text = "; ".join(f"{d.reason} (rule {d.rule})" for d in self.decisions)
        super().__init__(text, self.decisions[0].rule if self.decisions else "policy")

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(d.rule, d.reason) for d in self.decisions]

    def explain(self) -> str:
        return str(self)


class StaleCase(FieldcaseError):
    """The case changed after it was read; the write was not applied."""


class WriteRefused(FieldcaseError):
    """A file could not be written: its disk is full, at a size limit, read-only or failing.

    Nothing half-written is kept. ``path`` is the file; ``reason`` (what the
    disk said) and ``remedy`` (what to do) let a larger action word its own message.
    """

    def __init__(self, message: str, *, path: str | Path, reason: str, remedy: str) -> None:
        super().__init__(message)
        self.path, self.reason, self.remedy = str(path), reason, remedy


class PluginFailed(FieldcaseError):
    """A plugin's hook raised: the action is abandoned and nothing is written."""

    def __init__(self, plugin: str, hook: str, error: BaseException) -> None:
        self.plugin, self.hook, self.error = plugin, hook, error
        super().__init__(
            f"plugin {plugin!r} failed in its {hook} hook ({type(error).__name__}: {error}); "
            "nothing was written. Ask its maintainers, or leave it out with "
            "FIELDCASE_LOAD_PLUGINS (see 'fieldcase plugins')"
        )
