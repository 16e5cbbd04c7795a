"""The seam with the HTTP stacks: what reads a stack's objects or builds its exceptions.

The core (parse, classify, the policy, the budget, the loop) never imports an HTTP
stack and never reads one's private state; the modules here do, so that what
depends on a stack's internals is in one place:

- `exceptions`: errorkit exceptions that are also a stack's own, the one lookup of
  a stack exception in an adapter's table, and the builders of the final errors;
- `responses`: `error_of` and `raise_for_error`, reading any stack's response by
  duck typing (status, headers, the body the stack already cached);
- `httpx_bodies`: replaying httpx request bodies and peeking at error bodies
  (imports httpx's private ``_content`` and ``_multipart``);
- `urllib3_urlopen`: the body and headers of the pending ``urlopen`` call, read
  from its frame (urllib3 never hands them to a ``Retry``).

This package's ``__init__`` imports nothing, so ``import errorkit`` (which needs
`responses`) still imports no stack.
"""
