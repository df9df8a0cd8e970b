"""Names of the totals kept in the ``counters`` table (``CounterRepository``), which every
process adds to, so ``/metrics`` shows the same numbers whichever process answers.
(``statuses.UNKNOWN_STATUSES`` is one more.)"""

from __future__ import annotations

from typing import Final

__all__ = ["REPLIES_WINDOW_CLOSED", "WARNINGS_POSTED"]

#: Window warnings posted in threads (counted with the post's done mark).
WARNINGS_POSTED: Final = "warnings_posted"
#: Agents' messages that did not go out because the 24-hour window was closed: refused when
#: the agent replied, when the send came up, or by Meta (131047).
REPLIES_WINDOW_CLOSED: Final = "replies_window_closed"
