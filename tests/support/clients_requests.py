"""The requests client facade: a Session with `errorkit.requests.RetryAdapter` mounted."""

from __future__ import annotations

import requests

from errorkit import error_of
from errorkit.requests import RetryAdapter
from support.harness import BodyKind, ClientOptions, Result, register, sync_body, timed


class RequestsClient:
    name = "requests"

    def __init__(self, options: ClientOptions) -> None:
        self.adapter = RetryAdapter(
            options.policy,
            raise_for_status=options.raise_for_status,
            pool_connections=1,
            pool_maxsize=options.pool_size,
            pool_block=True,
        )
        self.session = requests.Session()
        self.session.mount("http://", self.adapter)

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
                r = self.session.request(method, url, data=data, headers=headers, timeout=timeout)
            except Exception as exc:
                response = getattr(exc, "response", None)
                return Result(
                    status=getattr(response, "status_code", None),
                    body=response.content if response is not None else None,
                    exception=exc,
                )
            return Result(
                status=r.status_code, body=r.content, headers=dict(r.headers), info=error_of(r)
            )

        return timed(call)

    def close(self) -> None:
        self.session.close()


register("requests")(RequestsClient)
