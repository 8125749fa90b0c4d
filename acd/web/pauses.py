"""Agents' pause reasons and the stuck-state watchdog (``[pauses]``, ``agents``
permission): the API. The Agents page, where supervisors configure agents' working
time, has the form (``agents.py``). The reasons are what agents and supervisors choose from when
pausing, and what the phone's pause code *12<n> numbers (1 = the first)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from . import config_routes as cr
from .agents import ManageAgents
from .openapi import errors
from .settings_changes import SettingsChanges


def router(changes: SettingsChanges) -> APIRouter:
    r = APIRouter()

    def pauses() -> dict[str, Any]:
        data: dict[str, Any] = cr.current(changes).pauses.model_dump(mode="json")
        return data

    @r.get("/api/pauses", responses=errors(401, 403, 503), tags=["agents"],
           summary="Pause reasons (the phone's *12<n> takes the n-th) and the stuck-state watchdog's seconds")
    def get_pauses(user: ManageAgents) -> dict[str, Any]:
        return pauses()

    @r.put("/api/pauses", responses=errors(400, 401, 403, 413, 422, 503), tags=["agents"],
           summary="Set the pause reasons and the watchdog's seconds (0: off); 422 names each bad item")
    async def put_pauses(user: ManageAgents, body: Annotated[dict[str, Any], Body(examples=[{
            "reasons": ["lunch", "training", "after-call work"], "stuck_state_seconds": 30}])]) -> Any:
        return cr.api_save(changes, user, "pauses", {**pauses(), **body}, action="pauses saved",
                           target="pauses", result=lambda s: pauses())

    return r
