"""The urllib3 client facade: errorkit's `PoolManager` (retries by `errorkit.urllib3.Retry`).

errorkit's PoolManager is what the docs recommend: it holds the policy's deadline
from the first send. `Retry` inside a plain ``urllib3.PoolManager`` is covered by
``tests/adapters/test_urllib3_sockets.py``.
"""

from __future__ import annotations

from errorkit import error_of
from errorkit.urllib3 import PoolManager, request_headers
from support.harness import BodyKind, ClientOptions, Result, register, sync_body, timed


class Urllib3Client:
    name = "urllib3"

    def __init__(self, options: ClientOptions) -> None:
        # urllib3 has no raise_for_status: raise_on_status=True is its counterpart
        # (the errorkit exception raised is also a MaxRetryError).
        self.http = PoolManager(
            options.policy,
            raise_on_status=options.raise_for_status,
            maxsize=options.pool_size,
            block=True,
        )
        self.retry = self.http.retries

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes = b"",
        body_kind: BodyKind = "none",
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
    ) -> Result:
        data = sync_body(body, body_kind)

        def call() -> Result:
            try:
                # A Retry cannot add headers: the documented helper adds the key.
                sent = request_headers(self.retry.policy, method, headers)
                r = self.http.request(method, url, body=data, headers=sent, timeout=timeout)
            except Exception as exc:  # the facade reports what was raised
                response = getattr(exc, "response", None)
                return Result(
                    status=getattr(response, "status", None),
                    body=response.data if response is not None else None,
                    exception=exc,
                )
            return Result(status=r.status, body=r.data, headers=dict(r.headers), info=error_of(r))

        return timed(call)

    def close(self) -> None:
        self.http.clear()


register("urllib3")(Urllib3Client)
