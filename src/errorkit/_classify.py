"""Classification: status + body shape + server hints -> category and retryability.

(Stub: the contract below is fixed; the implementation is being written.)
"""

from __future__ import annotations

from errorkit._formats._base import Extracted
from errorkit._hints import ServerHints
from errorkit._info import Category


def classify(
    status: int | None, found: Extracted, hints: ServerHints
) -> tuple[Category, bool, str]:
    """Return (category, retryable, reason) for an error response.

    `reason` is one short sentence for people ("429 is retryable: rate limited").
    """
    raise NotImplementedError
