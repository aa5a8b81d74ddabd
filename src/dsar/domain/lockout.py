"""Lock-out of an approver's authenticator codes: after :data:`MAX_WRONG_CODES` wrong codes
within :data:`WINDOW`, every code of that approver is refused for :data:`LOCKED_FOR` (the
right one too), so six digits cannot be guessed at the rate a script could try them.

The count is kept per account (``staff_account.totp_failures`` since ``totp_failed_since``);
a window that has passed starts the count again. Pure rules; the account repository stores
the state and :func:`dsar.services.accounts.prove_approver` applies them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_WRONG_CODES = 5
WINDOW = timedelta(minutes=15)
LOCKED_FOR = timedelta(minutes=15)


@dataclass(frozen=True)
class CodeFailures:
    """Wrong codes counted since ``since`` (within the window), and the end of a lock-out."""

    count: int = 0
    since: datetime | None = None
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def after_wrong_code(self, now: datetime) -> CodeFailures:
        """The state after one more wrong code at ``now``: counted in the current window (or a
        new one), and locked for :data:`LOCKED_FOR` once the window holds the maximum."""
        fresh = self.since is None or now - self.since > WINDOW
        count, since = (1, now) if fresh else (self.count + 1, self.since)
        if count >= MAX_WRONG_CODES:
            return CodeFailures(0, None, now + LOCKED_FOR)
        return CodeFailures(count, since, self.locked_until if self.locked(now) else None)
