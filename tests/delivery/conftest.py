"""Fixtures for the delivery tests: a Tracking API sink on 127.0.0.1 and message builders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.delivery.sink import Sink


@pytest.fixture()
def sink() -> Iterator[Sink]:
    server = Sink()
    server.start()
    try:
        yield server
    finally:
        server.stop()
