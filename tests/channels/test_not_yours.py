"""An agent acting on a conversation, e-mail or form that is someone else's gets a 403
with a sentence saying whose it is, never a 409 (nothing is in conflict: it is simply
not theirs), and nothing changes: not the router, not the history."""

from __future__ import annotations

from typing import Any

import pytest

from .support import FakeClock, Service, chat, settings

CONFIG = settings(chat("web", members=("anna", "boris"), mode="strict", idle_seconds="never"),
                  {"id": "mail", "kind": "email", "members": ["anna"]},
                  {"id": "contact", "kind": "form", "members": ["anna"]})

# path, body; the conversation is offered to anna (strict order), or held by her ("held")
CASES: list[tuple[str, str, Any, str]] = [
    ("offered", "/conversations/{cid}/accept", {}, "offered to anna, not to boris"),
    ("offered", "/conversations/{cid}/reject", {}, "offered to anna, not to boris"),
    ("offered", "/conversations/{cid}/answer", {"text": "mine now"}, "offered to anna, not to boris"),
    ("offered", "/conversations/{cid}/close", None, "offered to anna, not to boris"),
    ("offered", "/conversations/{cid}/transfer", {"to_agent": "boris"}, "offered to anna, not to boris"),
    ("held", "/conversations/{cid}/accept", {}, "anna's conversation, not boris's"),
    ("held", "/conversations/{cid}/reject", {}, "anna's conversation, not boris's"),
    ("held", "/conversations/{cid}/answer", {"text": "mine now"}, "anna's conversation, not boris's"),
    ("held", "/conversations/{cid}/close", None, "anna's conversation, not boris's"),
    ("held", "/conversations/{cid}/transfer", {"to_queue": "web"}, "anna's conversation, not boris's"),
    ("email", "/items/{email}/reply", {"text": "mine now"}, "assigned to anna, not to boris"),
    ("email", "/items/{email}/close", None, "assigned to anna, not to boris"),
    ("form", "/items/{form}/close", None, "assigned to anna, not to boris"),
]


@pytest.mark.parametrize(("state", "path", "body", "words"), CASES, ids=[f"{c[0]}-{c[1].split('/')[-1]}"
                                                                         for c in CASES])
async def test_an_agent_acting_on_someone_elses_work_gets_403_in_a_sentence_and_nothing_changes(
        db_url: str, state: str, path: str, body: Any, words: str) -> None:
    async with Service(CONFIG, db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:1", queue="web")  # strictly in order: offered to anna
        if state == "held":
            await svc.post(f"/conversations/{cid}/accept", {}, as_="anna", expect=200)
        email = (await svc.post("/inbound/email", {"queue": "mail", "message_id": "<m1@x.org>",
                                                   "sender": "kim@x.org"}, as_="integration", expect=202)).json()
        form = (await svc.post("/inbound/form", {"form": "contact", "fields": {"email": "kim@x.org"}},
                               as_="integration", expect=202)).json()
        await svc.desk.flush()
        before = (svc.desk.router.snapshot(), svc.desk.history.counts())
        response = await svc.post(path.format(cid=cid, email=email["item_id"], form=form["item_id"]), body,
                                  as_="boris")
        assert response.status_code == 403, response.text
        detail = response.json()["detail"]
        assert words in detail and detail.endswith("Nothing was changed."), detail
        await svc.desk.flush()
        assert (svc.desk.router.snapshot(), svc.desk.history.counts()) == before


async def test_a_supervisor_acting_for_an_agent_the_conversation_is_not_offered_to_gets_the_same_403(
        db_url: str) -> None:
    async with Service(CONFIG, db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:1", queue="web")
        response = await svc.post(f"/conversations/{cid}/accept", {"agent_id": "boris"}, as_="boss")
        assert response.status_code == 403 and "offered to anna, not to boris" in response.json()["detail"]
        await svc.post(f"/conversations/{cid}/accept", {"agent_id": "anna"}, as_="boss", expect=200)
