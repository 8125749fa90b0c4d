"""acd configures no OpenTelemetry: the app does not look for its providers on every
request (FastAPI would, at a cost per request on the busiest API)."""

from __future__ import annotations

from typing import Any

import opentelemetry.trace
import pytest
from fastapi.testclient import TestClient

from .conftest import Service


def test_a_request_does_not_look_for_opentelemetry_providers(service: Service,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    provider = opentelemetry.trace.get_tracer_provider

    def spy(*args: Any) -> Any:
        asked.append(args)
        return provider(*args)

    monkeypatch.setattr(opentelemetry.trace, "get_tracer_provider", spy)
    assert TestClient(service.app).get("/api/live").status_code == 401
    assert asked == []
