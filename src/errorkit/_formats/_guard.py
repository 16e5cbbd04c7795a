"""The switch behind `errorkit.testing.strict_parsing()`.

`parse()` has exactly two never-raise guards: its own, around the whole parse
(the contract: it never raises, whatever the input), and the registry's, around
each recognizer call (a broken user recognizer must not break parsing). Both log
what they catch at DEBUG on the ``errorkit`` logger, with the traceback, and both
re-raise instead while `STRICT` is true, so that a test sees the crash.

`STRICT` is a context variable rather than a module flag: strict mode set in one
test (or task, or thread) never leaks into parsing that runs concurrently
elsewhere, and leaving the block restores exactly the previous value.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar

logger = logging.getLogger("errorkit")

#: True inside `errorkit.testing.strict_parsing()`: the guards re-raise.
STRICT: ContextVar[bool] = ContextVar("errorkit_strict_parsing", default=False)
