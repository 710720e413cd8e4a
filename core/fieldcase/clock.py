"""The machine's clock, read at the edge (the command line) and handed to the services.

Logic never reads the clock itself: a service is given ``clock`` (a function
returning the real time) and the claimed time of each action (``--at``). The
events store both, and the institution's policy bounds how far they may
differ (see :mod:`fieldcase.policy`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable


def now() -> dt.datetime:
    """The machine's time, in UTC."""
    return dt.datetime.now(dt.UTC)


#: The real clock the command line hands the services. ``None`` means "take each
#: claimed time as the real one": what a replay, a demo or a test of a past story
#: needs, and what no office database should run with.
real_clock: Callable[[], dt.datetime] | None = now


def current() -> dt.datetime:
    """The time a command acts at when it is given no ``--at``."""
    return (real_clock or now)()


def aware(at: dt.datetime) -> dt.datetime:
    """``at`` itself, or InvalidInput when it has no time zone: every time is aware."""
    from .errors import InvalidInput

    if at.tzinfo is None:
        raise InvalidInput(f"time {at.isoformat()} has no time zone; add one, e.g. +08:00 or Z")
    return at
