"""The request core of the Segment Public API client: one HTTP session, any transport.

Owns: `ApiSession` (headers and token, envelopes, pagination, retries with backoff under a total
deadline, client-side throttling, reconciling POSTs that may already have been applied, and the
translation of failures into scrubbed `WorkspaceError`s); the response parsing helpers are in
`envelope.py`. The backend is the httpx transport given at construction (real API, in-process
emulator, emulator on a port); nothing here branches on it. Must never log, raise or return the
token or any registered secret, and never re-send a create whose earlier attempt may have
succeeded without first looking for its result. The endpoints themselves live in `client.py`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Self, TypeVar

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from segprof import __version__
from segprof.redaction import Redactor, remember
from segprof.workspace.api_error import WorkspaceError, parse_error_details
from segprof.workspace.envelope import (
    brief,
    json_or_none,
    next_cursor,
    parse_items,
    require_object,
    shape_problem,
)
from segprof.workspace.retry import Clock, RetryPolicy, server_hint
from segprof.workspace.throttle import RateLimits, Throttle, WaitCallback, WaitEvent, endpoint_class

log = logging.getLogger("segprof.workspace")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: Page size sent on every list call: valid under both the old (≤200) and new (≤1000) bounds.
DEFAULT_PAGE_SIZE = 200

# Failures where the request certainly never reached the server, so even a POST may be re-sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class _Timeout(Exception):
    """An attempt exceeded the per-request timeout (also enforced for in-process transports)."""


class ApiSession:
    """The request core of the workspace client, over whichever httpx transport it is given."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limits: RateLimits | None = None,
        clock: Clock | None = None,
        on_wait: WaitCallback | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        max_concurrency: int = 16,
        user_agent: str = f"segprof/{__version__}",
        redactor: Redactor | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.clock = clock or Clock()
        self.on_wait = on_wait
        self.page_size = page_size
        self.redactor = redactor or Redactor()
        self.redactor.add(token)
        remember(token)
        self.throttle = Throttle(limits or RateLimits(), self.clock)
        self.requests_sent = 0
        self._run_started: float | None = None  # the first call: the run's deadline counts from it
        self._max_concurrency = max_concurrency
        self._semaphore: anyio.Semaphore | None = None
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._base_url = base_url
        self._http = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers=headers,
            # The per-attempt timeout is enforced around the call (see _send); this is a backstop.
            timeout=httpx.Timeout(self.retry.request_timeout + 5),
            follow_redirects=False,
            # Loading the CA bundle costs ~30 ms per client; a plain-http (loopback emulator) base
            # never uses TLS, so only https bases get a verifying context.
            verify=str(base_url).startswith("https:"),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def eta(self, endpoint_class_name: str, count: int) -> float:
        """Seconds until `count` more requests of a limited class (e.g. "subscription_writes") can go."""
        return self.throttle.eta(endpoint_class_name, count)

    def add_secret(self, secret: str | None) -> None:
        """Register another value (write key, password) to scrub from every message."""
        self.redactor.add(secret)
        remember(secret)

    # --- request core --------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        address: str | None = None,
        idempotent: bool | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any]:
        """One call; returns the response's `data` object ({} for an empty body)."""
        return await self._call(
            method,
            path,
            params=params,
            body=body,
            address=address,
            parse=lambda data: data,
            idempotent=idempotent,
            missing_ok=missing_ok,
        )

    async def _call(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[dict[str, Any]], T],
        params: dict[str, Any] | None = None,
        body: Any = None,
        address: str | None = None,
        reconcile: Callable[[], Awaitable[T | None]] | None = None,
        idempotent: bool | None = None,
        missing_ok: bool = False,
    ) -> T:
        method = method.upper()
        if idempotent is None:
            idempotent = method != "POST"
        started = self.clock.monotonic()
        if self._run_started is None:
            self._run_started = started
        deadline_at = started + self.retry.deadline
        if self.retry.run_deadline is not None:
            deadline_at = min(deadline_at, self._run_started + self.retry.run_deadline)
        bucket = endpoint_class(method, path)
        attempt = 0
        maybe_applied = False
        last_problem = ""
        while True:
            if maybe_applied and not idempotent:
                if reconcile is None:
                    raise self._error(
                        f"{method} {path} may or may not have been applied ({last_problem}); "
                        "not re-sent to avoid a duplicate",
                        method=method,
                        path=path,
                        address=address,
                        hint="check the workspace, then run the command again",
                    )
                found = await reconcile()
                if found is not None:
                    log.info("%s %s: found the result of an earlier attempt; not re-sent", method, path)
                    return found
                maybe_applied = False
            await self.throttle.acquire(
                bucket, method=method, path=path, address=address, on_wait=self.on_wait
            )
            attempt += 1
            failure: Exception | None = None
            # The whole exchange of one attempt fits in what is left of the call's and the run's time.
            budget = min(self.retry.request_timeout, deadline_at - self.clock.monotonic())
            if budget <= 0:
                raise self._out_of_time(method, path, address, attempt - 1, started, last_problem)
            try:
                response = await self._send(method, path, params=params, body=body, timeout=budget)
            except (httpx.TransportError, _Timeout) as exc:
                failure = exc
            if failure is not None:
                # Handled outside the except block: the raised error must not chain the httpx
                # exception, which holds the request (and its Authorization header).
                timed_out = isinstance(failure, (_Timeout, httpx.TimeoutException))
                last_problem = (
                    f"{'timed out' if timed_out else 'connection failed'}: {type(failure).__name__}"
                )
                if not isinstance(failure, _NOT_SENT):
                    maybe_applied = True
                failure = None
                wait = self._backoff(attempt, None)
                await self._wait_or_give_up(
                    wait, attempt, started, deadline_at, method, path, address, last_problem
                )
                continue

            status = response.status_code
            payload = json_or_none(response)
            if 200 <= status < 300:
                if (payload is None and response.content.strip()) or (
                    payload is not None and not isinstance(payload, dict)
                ):
                    raise self._error(
                        f"{method} {path} returned a body that is not a JSON object",
                        method=method,
                        path=path,
                        address=address,
                        status=status,
                    )
                data = payload.get("data") if isinstance(payload, dict) else None
                try:
                    return parse(data if isinstance(data, dict) else {})
                except (ValidationError, WorkspaceError) as exc:
                    problem = shape_problem(exc)
                raise self._error(
                    f"{method} {path} returned an unexpected response: {problem}",
                    method=method,
                    path=path,
                    address=address,
                    status=status,
                )
            if status == 404 and (missing_ok or (maybe_applied and method == "DELETE")):
                # Gone already: a DELETE whose earlier attempt went through, or the caller accepts absence.
                return parse({})
            if self.retry.retryable(status):
                last_problem = f"{status} {brief(payload, response)}"
                if status != 429:
                    # A 5xx after sending may still have been applied (a create, a delete).
                    maybe_applied = True
                hint = server_hint(response, payload, self.clock.wall())
                if hint is not None and hint > self.retry.max_hint:
                    raise self._error(
                        f"{method} {path}: rate limited; the API asks to wait {hint:.0f}s",
                        method=method,
                        path=path,
                        address=address,
                        status=status,
                        payload=payload,
                        hint="raise the retry deadline or try again later",
                    )
                wait = self._backoff(attempt, hint)
                if status == 429 and hint is not None:
                    # Concurrent callers of the same limited endpoint must not hammer it meanwhile.
                    self.throttle.hold(bucket, hint)
                await self._wait_or_give_up(
                    wait, attempt, started, deadline_at, method, path, address, last_problem
                )
                continue
            raise self._http_error(method, path, status, payload, response, address)

    def _out_of_time(
        self, method: str, path: str, address: str | None, attempts: int, started: float, problem: str
    ) -> WorkspaceError:
        spent = self.clock.monotonic() - started
        return self._error(
            f"gave up on {method} {path}: out of time after {attempts} attempt(s) in {spent:.1f}s"
            + (f"; last: {problem}" if problem else ""),
            method=method,
            path=path,
            address=address,
            hint="the call (SEGPROF_API_CALL_DEADLINE) or the run (SEGPROF_API_RUN_DEADLINE) used its time; "
            "check the workspace's status, then run the command again",
        )

    async def _send(
        self, method: str, path: str, *, params: Any, body: Any, timeout: float | None = None
    ) -> httpx.Response:
        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self._max_concurrency)
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        async with self._semaphore:
            self.requests_sent += 1
            t0 = self.clock.monotonic()
            try:
                with anyio.fail_after(timeout if timeout is not None else self.retry.request_timeout):
                    response = await self._http.request(
                        method, path, params=params, content=content, headers=headers
                    )
                    await response.aread()
            except TimeoutError as exc:
                raise _Timeout() from exc
        if log.isEnabledFor(logging.DEBUG):  # `--verbose` / SEGPROF_LOG=debug
            target = response.request.url.raw_path.decode("ascii", "replace")
            log.debug(
                self.redactor.scrub(
                    f"Public API {method} {target} -> {response.status_code} "
                    f"({(self.clock.monotonic() - t0) * 1000:.0f} ms, sent {len(content or b'')} B, "
                    f"received {len(response.content)} B)"
                )
            )
        return response

    def _backoff(self, attempt: int, hint: float | None) -> float:
        jitter = self.retry.backoff(attempt - 1, self.clock.random)
        if hint is None:
            return jitter
        # Honour the server's hint; a little jitter keeps parallel callers from waking together.
        return hint + min(jitter, self.retry.base_delay)

    async def _wait_or_give_up(
        self,
        wait: float,
        attempt: int,
        started: float,
        deadline_at: float,
        method: str,
        path: str,
        address: str | None,
        problem: str,
    ) -> None:
        now = self.clock.monotonic()
        if attempt >= self.retry.max_attempts or now + wait > deadline_at:
            raise self._error(
                f"gave up on {method} {path} after {attempt} attempt{'s' if attempt != 1 else ''} "
                f"in {now - started:.1f}s; last: {problem}",
                method=method,
                path=path,
                address=address,
                hint="the workspace API is unavailable or rate limiting; try again later "
                "or allow a longer retry deadline",
            )
        log.info(
            "%s %s: %s; retrying in %.1fs (attempt %d)",
            method,
            path,
            self.redactor.scrub(problem),
            wait,
            attempt,
        )
        if self.on_wait is not None:
            self.on_wait(
                WaitEvent(
                    kind="retry",
                    seconds=wait,
                    method=method,
                    path=path,
                    address=address,
                    attempt=attempt,
                    reason=self.redactor.scrub(problem),
                )
            )
        await self.clock.sleep(wait)

    def _http_error(
        self,
        method: str,
        path: str,
        status: int,
        payload: object,
        response: httpx.Response,
        address: str | None,
    ) -> WorkspaceError:
        hint = None
        if status == 401:
            hint = (
                "check the API token (workspace.token / SEGMENT_API_TOKEN): "
                "it must be a Public API token of this workspace"
            )
        elif status == 403:
            hint = "the API token lacks the permission for this call"
        what = {401: "unauthorized", 403: "forbidden", 404: "not found"}.get(status, "refused")
        return self._error(
            f"{method} {path} {what} ({status}): {brief(payload, response)}",
            method=method,
            path=path,
            address=address,
            status=status,
            payload=payload,
            hint=hint,
        )

    def _error(
        self,
        message: str,
        *,
        method: str,
        path: str,
        address: str | None,
        status: int | None = None,
        payload: object = None,
        hint: str | None = None,
    ) -> WorkspaceError:
        return WorkspaceError(
            self.redactor.scrub(message),
            status=status,
            details=parse_error_details(payload),
            method=method,
            path=path,
            address=address,
            hint=self.redactor.scrub(hint) if hint else None,
        )

    async def _list_all(
        self,
        path: str,
        keys: str | tuple[str, ...],
        model: type[M],
        *,
        address: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[M]:
        """Every item under `data.<key>` across all pages (cursor `next` until null/absent)."""
        keys = (keys,) if isinstance(keys, str) else keys
        items: list[M] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query: dict[str, Any] = dict(params or {})
            query["pagination.count"] = self.page_size
            if cursor is not None:
                query["pagination.cursor"] = cursor
            page, cursor = await self._call(
                "GET",
                path,
                params=query,
                address=address,
                parse=lambda data: (parse_items(data, keys, model), next_cursor(data)),
            )
            items.extend(page)
            if cursor is None or cursor in seen:
                return items
            seen.add(cursor)

    async def _get_optional(self, path: str, key: str, model: type[M], address: str | None) -> M | None:
        """GET one resource; None when the workspace answers 404."""
        return await self._call(
            "GET",
            path,
            address=address,
            missing_ok=True,
            parse=lambda d: model.model_validate(require_object(d, key, f"GET {path}")) if d else None,
        )
