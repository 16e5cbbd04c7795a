"""Catalogs: an API's documented errors (message/code -> cause -> what to do) as data.

(Stub: the contract below is fixed; the implementation is being written.)
"""

from __future__ import annotations


def lookup_hint(status: int | None, message: str, code: str | None) -> str | None:
    """Remediation text for an error from the registered catalogs, or None."""
    raise NotImplementedError
