"""The emulated Segment Public API: catalog, sources, Reverse ETL models, destinations,
destination subscriptions and manual syncs.

Owns: the routes (each path and method to its handler in `resource_handlers` or
`subscription_handlers`), the bearer-token check, the per-endpoint rate limits, and answering
in Segment's error envelope (`{"errors": […]}`). Must never return a secret in clear (settings
are stored masked) and never let an exception escape as anything but Segment's error envelope.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from segprof.emulator.problem import ApiError, unauthorized
from segprof.emulator.resource_handlers import ResourceHandlers
from segprof.emulator.subscription_handlers import SubscriptionHandlers

Handler = Callable[[Request], Awaitable[Response]]


class PublicApi(ResourceHandlers, SubscriptionHandlers):
    """Handlers bound to one store; `routes()` gives the Starlette routes."""

    # -- plumbing ----------------------------------------------------------------------------
    def _authorize(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        given = given.strip()
        if self.token is None:
            return given or None
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), self.token.encode()):
            raise unauthorized()
        return given

    def _wrap(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                token = self._authorize(request)
                limit_headers = self.limiter.check(request.method, request.url.path, token)
                response = await handler(request)
                if limit_headers:
                    response.headers.update(limit_headers)
                return response
            except ApiError as err:
                return err.response()

        return endpoint

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, list[str]]] = [
            ("/", self.get_workspace, ["GET"]),
            ("/catalog/sources", self.list_source_metadata, ["GET"]),
            ("/catalog/sources/{metadata_id}", self.get_source_metadata, ["GET"]),
            ("/catalog/destinations", self.list_destination_metadata, ["GET"]),
            ("/catalog/destinations/{metadata_id}", self.get_destination_metadata, ["GET"]),
            ("/catalog/warehouses", self.list_warehouse_metadata, ["GET"]),
            ("/catalog/warehouses/{metadata_id}", self.get_warehouse_metadata, ["GET"]),
            ("/sources", self.list_sources, ["GET"]),
            ("/sources", self.create_source, ["POST"]),
            ("/sources/{source_id}", self.get_source, ["GET"]),
            ("/sources/{source_id}", self.update_source, ["PATCH"]),
            ("/sources/{source_id}", self.delete_source, ["DELETE"]),
            ("/sources/{source_id}/connected-destinations", self.connected_destinations, ["GET"]),
            ("/reverse-etl-models", self.list_models, ["GET"]),
            ("/reverse-etl-models", self.create_model, ["POST"]),
            ("/reverse-etl-models/{model_id}", self.get_model, ["GET"]),
            ("/reverse-etl-models/{model_id}", self.update_model, ["PATCH"]),
            ("/reverse-etl-models/{model_id}", self.delete_model, ["DELETE"]),
            ("/reverse-etl-models/{model_id}/syncs/{sync_id}", self.get_sync, ["GET"]),
            ("/reverse-etl-models/{model_id}/syncs/{sync_id}/cancel", self.cancel_sync, ["POST"]),
            (
                "/reverse-etl-models/{model_id}/subscriptionId/{subscription_id}/syncs",
                self.list_syncs,
                ["GET"],
            ),
            ("/reverse-etl-syncs", self.create_sync, ["POST"]),
            ("/destinations", self.list_destinations, ["GET"]),
            ("/destinations", self.create_destination, ["POST"]),
            ("/destinations/{destination_id}", self.get_destination, ["GET"]),
            ("/destinations/{destination_id}", self.update_destination, ["PATCH"]),
            ("/destinations/{destination_id}", self.delete_destination, ["DELETE"]),
            ("/destinations/{destination_id}/subscriptions", self.list_subscriptions, ["GET"]),
            ("/destinations/{destination_id}/subscriptions", self.create_subscription, ["POST"]),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.get_subscription,
                ["GET"],
            ),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.update_subscription,
                ["PATCH"],
            ),
            (
                "/destinations/{destination_id}/subscriptions/{subscription_id}",
                self.delete_subscription,
                ["DELETE"],
            ),
        ]
        # One Route per (path, method) would make Starlette answer 405 for the other methods
        # before our envelope applies; group methods per path instead.
        grouped: dict[str, dict[str, Handler]] = {}
        for path, handler, methods in table:
            for method in methods:
                grouped.setdefault(path, {})[method] = handler
        routes = []
        for path, by_method in grouped.items():
            routes.append(
                Route(
                    path,
                    self._wrap(self._dispatch(by_method)),
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                )
            )
        return routes

    @staticmethod
    def _dispatch(by_method: dict[str, Handler]) -> Handler:
        async def handler(request: Request) -> Response:
            chosen = by_method.get(request.method)
            if chosen is None:
                raise ApiError(405, "method-not-allowed", f"{request.method} is not allowed on this path")
            return await chosen(request)

        return handler
