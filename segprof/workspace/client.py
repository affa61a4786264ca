"""The asynchronous Segment Public API client: one client, any transport.

Owns: `AsyncWorkspaceClient`, every call segprof makes to a workspace (catalog, sources, Reverse
ETL models, destinations, subscriptions, manual syncs), the request core (headers, envelopes,
pagination, retries, throttling, reconciling POSTs that may already have been applied) and the
translation of failures into scrubbed `WorkspaceError`s. The backend is the httpx transport given
at construction (real API, in-process emulator, emulator on a port); nothing here branches on
it. Must never log, raise or return the token or any registered secret, and never re-send a
create whose earlier attempt may have succeeded without first looking for its result.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import httpx
from pydantic import BaseModel, ValidationError

from segprof import __version__
from segprof.workspace.api_error import WorkspaceError, parse_error_details
from segprof.workspace.redaction import Redactor
from segprof.workspace.resources import (
    SEGMENT_PROFILES_METADATA_ID,
    CancelResult,
    Destination,
    DestinationMetadata,
    ManualSync,
    ReverseEtlModel,
    Schedule,
    Source,
    SourceMetadata,
    Subscription,
    SyncStatus,
)
from segprof.workspace.retry import Clock, RetryPolicy, server_hint
from segprof.workspace.throttle import RateLimits, Throttle, WaitCallback, WaitEvent, endpoint_class

log = logging.getLogger("segprof.workspace")

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

#: Page size sent on every list call: valid under both the old (≤200) and new (≤1000) bounds.
DEFAULT_PAGE_SIZE = 200
#: The sync-history listing takes plain `count`, at most 100.
SYNC_HISTORY_PAGE_SIZE = 100

# Failures where the request certainly never reached the server, so even a POST may be re-sent.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _seg(value: str) -> str:
    return quote(str(value), safe="")


class _Timeout(Exception):
    """An attempt exceeded the per-request timeout (also enforced for in-process transports)."""


class AsyncWorkspaceClient:
    """Speaks the Segment Public API over whichever httpx transport it is given."""

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
        self.throttle = Throttle(limits or RateLimits(), self.clock)
        self.requests_sent = 0
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
        return f"AsyncWorkspaceClient(base_url={self._base_url!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncWorkspaceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def eta(self, endpoint_class_name: str, count: int) -> float:
        """Seconds until `count` more requests of a limited class (e.g. "subscription_writes") can go."""
        return self.throttle.eta(endpoint_class_name, count)

    def add_secret(self, secret: str | None) -> None:
        """Register another value (write key, password) to scrub from every message."""
        self.redactor.add(secret)

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
        deadline_at = started + self.retry.deadline
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
            try:
                response = await self._send(method, path, params=params, body=body)
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
            payload = _json_or_none(response)
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
                    problem = _shape_problem(exc)
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
                last_problem = f"{status} {_brief(payload, response)}"
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

    async def _send(self, method: str, path: str, *, params: Any, body: Any) -> httpx.Response:
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
                with anyio.fail_after(self.retry.request_timeout):
                    response = await self._http.request(
                        method, path, params=params, content=content, headers=headers
                    )
                    await response.aread()
            except TimeoutError as exc:
                raise _Timeout() from exc
        log.debug(
            "%s %s -> %s (%.0f ms)", method, path, response.status_code, (self.clock.monotonic() - t0) * 1000
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
            f"{method} {path} {what} ({status}): {_brief(payload, response)}",
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
                parse=lambda data: (_items(data, keys, model), _next_cursor(data)),
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
            parse=lambda d: model.model_validate(_require(d, key, f"GET {path}")) if d else None,
        )

    # --- catalog -------------------------------------------------------------------------

    async def get_destination_metadata(
        self, metadata_id: str = SEGMENT_PROFILES_METADATA_ID, *, address: str | None = None
    ) -> DestinationMetadata:
        path = f"/catalog/destinations/{_seg(metadata_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: DestinationMetadata.model_validate(
                _require(d, "destinationMetadata", f"GET {path}")
            ),
        )

    async def get_source_metadata(self, metadata_id: str, *, address: str | None = None) -> SourceMetadata:
        path = f"/catalog/sources/{_seg(metadata_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: SourceMetadata.model_validate(_require(d, "sourceMetadata", f"GET {path}")),
        )

    async def list_source_catalog(self, *, address: str | None = None) -> list[SourceMetadata]:
        return await self._list_all("/catalog/sources", "sourcesCatalog", SourceMetadata, address=address)

    async def list_destination_catalog(self, *, address: str | None = None) -> list[DestinationMetadata]:
        return await self._list_all(
            "/catalog/destinations", "destinationsCatalog", DestinationMetadata, address=address
        )

    # --- sources -------------------------------------------------------------------------

    async def list_sources(self, *, address: str | None = None) -> list[Source]:
        return await self._list_all("/sources", "sources", Source, address=address)

    async def get_source(self, source_id: str, *, address: str | None = None) -> Source | None:
        """The source, or None when the workspace has no such source (404)."""
        return await self._get_optional(f"/sources/{_seg(source_id)}", "source", Source, address)

    async def create_source(
        self,
        *,
        slug: str,
        metadata_id: str,
        enabled: bool = True,
        settings: dict[str, Any] | None = None,
        name: str | None = None,
        address: str | None = None,
    ) -> Source:
        """POST /sources (v1 has no `name`), then PATCH the name when one is given."""
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {"slug": slug, "enabled": enabled, "metadataId": metadata_id}
        if settings is not None:
            body["settings"] = settings
        body["disconnectAllWarehouses"] = True

        async def reconcile() -> Source | None:
            return next((s for s in await self.list_sources(address=address) if s.slug == slug), None)

        source = await self._call(
            "POST",
            "/sources",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: Source.model_validate(_require(d, "source", "POST /sources")),
        )
        if name is not None and source.name != name:
            source = await self.update_source(source.id, name=name, address=address)
        return source

    async def update_source(
        self,
        source_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        slug: str | None = None,
        settings: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Source:
        """PATCH the given fields only; settings are merged by the API (send a key as None to remove it)."""
        self.redactor.add_from_settings(settings)
        body = _present(name=name, enabled=enabled, slug=slug, settings=settings)
        path = f"/sources/{_seg(source_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: Source.model_validate(_require(d, "source", f"PATCH {path}")),
        )

    async def delete_source(
        self, source_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/sources/{_seg(source_id)}", address, missing_ok)

    # --- Reverse ETL models ----------------------------------------------------------------

    async def list_models(self, *, address: str | None = None) -> list[ReverseEtlModel]:
        # Older API versions (and Segment's TypeScript SDK) call the list `reverseEtlModels`.
        return await self._list_all(
            "/reverse-etl-models", ("models", "reverseEtlModels"), ReverseEtlModel, address=address
        )

    async def get_model(self, model_id: str, *, address: str | None = None) -> ReverseEtlModel | None:
        path = f"/reverse-etl-models/{_seg(model_id)}"
        return await self._get_optional(path, "reverseEtlModel", ReverseEtlModel, address)

    async def create_model(
        self,
        *,
        source_id: str,
        name: str,
        query: str,
        query_identifier_column: str,
        description: str | None = None,
        enabled: bool = True,
        address: str | None = None,
    ) -> ReverseEtlModel:
        """POST /reverse-etl-models. The API requires a description; none is sent as `" "`, as the UI does."""
        body = {
            "sourceId": source_id,
            "name": name,
            "description": description if description and description.strip() else " ",
            "enabled": enabled,
            "query": query,
            "queryIdentifierColumn": query_identifier_column,
        }

        async def reconcile() -> ReverseEtlModel | None:
            models = await self.list_models(address=address)
            return next((m for m in models if m.source_id == source_id and m.name == name), None)

        return await self._call(
            "POST",
            "/reverse-etl-models",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: ReverseEtlModel.model_validate(
                _require(d, "reverseEtlModel", "POST /reverse-etl-models")
            ),
        )

    async def update_model(
        self,
        model_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        query: str | None = None,
        query_identifier_column: str | None = None,
        address: str | None = None,
    ) -> ReverseEtlModel:
        body = _present(
            name=name,
            description=description,
            enabled=enabled,
            query=query,
            queryIdentifierColumn=query_identifier_column,
        )
        path = f"/reverse-etl-models/{_seg(model_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: ReverseEtlModel.model_validate(_require(d, "reverseEtlModel", f"PATCH {path}")),
        )

    async def delete_model(
        self, model_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/reverse-etl-models/{_seg(model_id)}", address, missing_ok)

    # --- destinations ----------------------------------------------------------------------

    async def list_destinations(self, *, address: str | None = None) -> list[Destination]:
        return await self._list_all("/destinations", "destinations", Destination, address=address)

    async def get_destination(self, destination_id: str, *, address: str | None = None) -> Destination | None:
        path = f"/destinations/{_seg(destination_id)}"
        return await self._get_optional(path, "destination", Destination, address)

    async def create_destination(
        self,
        *,
        source_id: str,
        name: str | None = None,
        enabled: bool = False,
        settings: dict[str, Any] | None = None,
        metadata_id: str = SEGMENT_PROFILES_METADATA_ID,
        address: str | None = None,
    ) -> Destination:
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {
            "sourceId": source_id,
            "metadataId": metadata_id,
            "enabled": enabled,
            "settings": settings if settings is not None else {},
        }
        if name is not None:
            body["name"] = name

        async def reconcile() -> Destination | None:
            for dest in await self.list_destinations(address=address):
                if dest.source_id == source_id and dest.metadata_id == metadata_id and dest.name == name:
                    return dest
            return None

        return await self._call(
            "POST",
            "/destinations",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: Destination.model_validate(_require(d, "destination", "POST /destinations")),
        )

    async def update_destination(
        self,
        destination_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
        address: str | None = None,
    ) -> Destination:
        self.redactor.add_from_settings(settings)
        body = _present(name=name, enabled=enabled, settings=settings)
        path = f"/destinations/{_seg(destination_id)}"
        return await self._call(
            "PATCH",
            path,
            body=body,
            address=address,
            parse=lambda d: Destination.model_validate(_require(d, "destination", f"PATCH {path}")),
        )

    async def delete_destination(
        self, destination_id: str, *, address: str | None = None, missing_ok: bool = False
    ) -> str:
        return await self._delete(f"/destinations/{_seg(destination_id)}", address, missing_ok)

    # --- subscriptions (mappings) --------------------------------------------------------------

    async def list_subscriptions(
        self, destination_id: str, *, address: str | None = None
    ) -> list[Subscription]:
        subs = await self._list_all(
            f"/destinations/{_seg(destination_id)}/subscriptions",
            "subscriptions",
            Subscription,
            address=address,
        )
        for sub in subs:
            if sub.destination_id is None:
                sub.destination_id = destination_id
        return subs

    async def get_subscription(
        self, destination_id: str, subscription_id: str, *, address: str | None = None
    ) -> Subscription | None:
        path = f"/destinations/{_seg(destination_id)}/subscriptions/{_seg(subscription_id)}"
        found = await self._get_optional(path, "subscription", Subscription, address)
        if found is not None and found.destination_id is None:
            found.destination_id = destination_id
        return found

    async def create_subscription(
        self,
        destination_id: str,
        *,
        name: str,
        action_id: str,
        trigger: str,
        enabled: bool,
        settings: dict[str, Any] | None = None,
        model_id: str | None = None,
        schedule: Schedule | None = None,
        address: str | None = None,
    ) -> Subscription:
        """Create a mapping: POST (no schedule accepted), then PATCH `{"input": …}` with model and schedule.

        Two subscription writes (of 5 per minute). If the PATCH fails, the error carries the
        created subscription as `.resource` so the caller can record its id.
        """
        path = f"/destinations/{_seg(destination_id)}/subscriptions"
        self.redactor.add_from_settings(settings)
        body: dict[str, Any] = {"name": name, "actionId": action_id, "trigger": trigger, "enabled": enabled}
        if model_id is not None:
            body["modelId"] = model_id
        body["settings"] = settings if settings is not None else {}

        async def reconcile() -> Subscription | None:
            for sub in await self.list_subscriptions(destination_id, address=address):
                if sub.model_id == model_id and sub.action_id == action_id and sub.name == name:
                    return sub
            return None

        created = await self._call(
            "POST",
            path,
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: _subscription(
                _require(d, "destinationSubscription", f"POST {path}"), destination_id
            ),
        )
        if model_id is None and schedule is None:
            return created
        try:
            return await self.update_subscription(
                destination_id,
                created.id,
                name=name,
                trigger=trigger,
                enabled=enabled,
                settings=settings,
                model_id=model_id,
                schedule=schedule,
                address=address,
            )
        except WorkspaceError as err:
            err.message = (
                f"created subscription {created.id}, but setting its model and schedule failed: {err.message}"
            )
            err.args = (err.message,)
            err.resource = created
            raise

    async def update_subscription(
        self,
        destination_id: str,
        subscription_id: str,
        *,
        name: str | None = None,
        trigger: str | None = None,
        enabled: bool | None = None,
        settings: dict[str, Any] | None = None,
        model_id: str | None = None,
        schedule: Schedule | None = None,
        address: str | None = None,
    ) -> Subscription:
        """PATCH with the body wrapped in `input`; the model goes as `reverseETLModelId`."""
        self.redactor.add_from_settings(settings)
        inner = _present(
            name=name,
            trigger=trigger,
            enabled=enabled,
            settings=settings,
            reverseETLModelId=model_id,
            reverseETLSchedule=schedule.to_api() if schedule is not None else None,
        )
        path = f"/destinations/{_seg(destination_id)}/subscriptions/{_seg(subscription_id)}"
        return await self._call(
            "PATCH",
            path,
            body={"input": inner},
            address=address,
            parse=lambda d: _subscription(_require(d, "subscription", f"PATCH {path}"), destination_id),
        )

    async def delete_subscription(
        self,
        destination_id: str,
        subscription_id: str,
        *,
        address: str | None = None,
        missing_ok: bool = False,
    ) -> str:
        path = f"/destinations/{_seg(destination_id)}/subscriptions/{_seg(subscription_id)}"
        return await self._delete(path, address, missing_ok)

    # --- syncs -------------------------------------------------------------------------------

    async def start_sync(
        self, *, source_id: str, model_id: str, subscription_id: str, address: str | None = None
    ) -> ManualSync:
        """POST /reverse-etl-syncs; after an ambiguous failure, adopts a sync already running."""
        body = {"sourceId": source_id, "modelId": model_id, "subscriptionId": subscription_id}
        asked_at = self.clock.wall()

        async def reconcile() -> ManualSync | None:
            for status in await self.list_syncs(
                model_id, subscription_id, limit=SYNC_HISTORY_PAGE_SIZE, address=address
            ):
                started = _epoch(status.started_at)
                if status.sync_status == "IN_PROGRESS" or (started is not None and started >= asked_at - 5):
                    return ManualSync(sync_id=status.sync_id, started_at=status.started_at)
            return None

        return await self._call(
            "POST",
            "/reverse-etl-syncs",
            body=body,
            address=address,
            reconcile=reconcile,
            parse=lambda d: ManualSync.model_validate(
                _require_any(d, ("reverseETLManualSync", "reverseETLSync"), "POST /reverse-etl-syncs")
            ),
        )

    async def get_sync(self, model_id: str, sync_id: str, *, address: str | None = None) -> SyncStatus:
        path = f"/reverse-etl-models/{_seg(model_id)}/syncs/{_seg(sync_id)}"
        return await self._call(
            "GET",
            path,
            address=address,
            parse=lambda d: SyncStatus.model_validate(
                _require_any(d, ("reverseETLSyncStatus", "reverseETLSync"), f"GET {path}")
            ),
        )

    async def list_syncs(
        self, model_id: str, subscription_id: str, *, limit: int | None = None, address: str | None = None
    ) -> list[SyncStatus]:
        """Sync history of one mapping, newest first as the API orders it (plain `count`/`cursor` paging)."""
        path = f"/reverse-etl-models/{_seg(model_id)}/subscriptionId/{_seg(subscription_id)}/syncs"
        result: list[SyncStatus] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            count = (
                SYNC_HISTORY_PAGE_SIZE
                if limit is None
                else max(1, min(SYNC_HISTORY_PAGE_SIZE, limit - len(result)))
            )
            params: dict[str, Any] = {"count": count}
            if cursor is not None:
                params["cursor"] = cursor
            page, cursor = await self._call(
                "GET",
                path,
                params=params,
                address=address,
                parse=lambda data: (_items(data, ("syncStatuses",), SyncStatus), _next_cursor(data)),
            )
            result.extend(page)
            if cursor is None or cursor in seen or (limit is not None and len(result) >= limit):
                return result if limit is None else result[:limit]
            seen.add(cursor)

    async def cancel_sync(
        self, model_id: str, sync_id: str, *, reason: int | None = None, address: str | None = None
    ) -> CancelResult:
        path = f"/reverse-etl-models/{_seg(model_id)}/syncs/{_seg(sync_id)}/cancel"
        body = {} if reason is None else {"reasonForCanceling": reason}
        # Cancelling twice is harmless, so this POST may be re-sent blindly.
        return await self._call(
            "POST", path, body=body, address=address, idempotent=True, parse=CancelResult.model_validate
        )

    async def wait_for_sync(
        self,
        model_id: str,
        sync_id: str,
        *,
        poll_interval: float = 5.0,
        timeout: float | None = None,
        on_status: Callable[[SyncStatus], None] | None = None,
        address: str | None = None,
    ) -> SyncStatus:
        """Poll a sync until it finishes (or `timeout` seconds pass: then the last status is returned)."""
        started = self.clock.monotonic()
        while True:
            status = await self.get_sync(model_id, sync_id, address=address)
            if on_status is not None:
                on_status(status)
            if status.finished:
                return status
            if timeout is not None and self.clock.monotonic() - started + poll_interval > timeout:
                return status
            await self.clock.sleep(poll_interval)

    # --- helpers ------------------------------------------------------------------------------

    async def _delete(self, path: str, address: str | None, missing_ok: bool) -> str:
        data = await self.request("DELETE", path, address=address, missing_ok=missing_ok)
        status = data.get("status")
        return str(status) if status is not None else ("NOT_FOUND" if not data else "SUCCESS")


def _subscription(raw: dict[str, Any], destination_id: str) -> Subscription:
    sub = Subscription.model_validate(raw)
    if sub.destination_id is None:
        sub.destination_id = destination_id
    return sub


def _items(data: dict[str, Any], keys: tuple[str, ...], model: type[M]) -> list[M]:
    for key in keys:
        if key in data:
            raw = data[key] or []
            if not isinstance(raw, list):
                raise WorkspaceError(f"`data.{key}` is not a list")
            items = []
            for index, item in enumerate(raw):
                try:
                    items.append(model.model_validate(item))
                except ValidationError as exc:
                    raise WorkspaceError(f"data.{key}[{index}].{_shape_problem(exc)}") from None
            return items
    raise WorkspaceError(f"the response has no `data.{keys[0]}` list")


def _shape_problem(exc: Exception) -> str:
    """What was wrong with a response, without echoing its values (they may hold secrets)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return f"{where}: {first.get('msg', 'invalid')}{more}"
    return getattr(exc, "message", None) or str(exc)


def _present(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _require(data: dict[str, Any], key: str, what: str) -> dict[str, Any]:
    return _require_any(data, (key,), what)


def _require_any(data: dict[str, Any], keys: tuple[str, ...], what: str) -> dict[str, Any]:
    for key in keys:
        value = data.get(key)
        if isinstance(value, dict):
            return value
    raise WorkspaceError(f"{what}: the response has no `data.{keys[0]}` object")


def _next_cursor(data: dict[str, Any]) -> str | None:
    page = data.get("pagination")
    if not isinstance(page, dict):
        return None
    nxt = page.get("next")
    return str(nxt) if nxt not in (None, "") else None


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _brief(payload: object, response: httpx.Response) -> str:
    details = parse_error_details(payload)
    if details:
        return "; ".join(d.describe() for d in details)
    return response.reason_phrase or "no error details"


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
