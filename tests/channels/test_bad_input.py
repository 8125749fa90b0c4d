"""Bad input gets a clear 4xx and changes nothing: not the router, not the history."""

from __future__ import annotations

from typing import Any

import pytest

from acd.web.channels_api import MAX_BODY

from .support import FakeClock, Service, chat, settings

CONFIG = settings(chat(), {"id": "mail", "kind": "email", "members": ["anna"]},
                  {"id": "contact", "kind": "form", "members": ["anna"]})
BIG = "x" * (MAX_BODY + 1)

CASES: list[tuple[str, Any, str | None, int, str]] = [
    # path, body, user, status, words of the answer
    ("/inbound/chat", {"queue": "viber", "client": "tg:1", "text": "hi"}, "integration", 404, "no chat queue 'viber'"),
    ("/inbound/chat", {"queue": "mail", "client": "tg:1", "text": "hi"}, "integration", 404, "no chat queue"),
    ("/inbound/chat", {"queue": "telegram", "client": "tg:1", "text": BIG}, "integration", 413, "larger than"),
    ("/inbound/chat", {"queue": "telegram", "text": "hi"}, "integration", 422, "client"),
    ("/inbound/chat", {"queue": "telegram", "client": "tg:1", "colour": "red"}, "integration", 422, "colour"),
    ("/inbound/chat", b"{not json", "integration", 422, "not a JSON body"),
    ("/inbound/chat", {"queue": "telegram", "client": "tg:1"}, None, 401, "not signed in"),
    ("/inbound/chat", {"queue": "telegram", "client": "tg:1"}, "mailer", 403, "open_channels"),
    ("/inbound/email", {"queue": "mail", "message_id": "<a@b.c>", "sender": "not-an-address"}, "mailer", 422,
     "sender: not an e-mail address"),
    ("/inbound/email", {"queue": "mail", "message_id": "<a@b.c>", "sender": "ann@localhost"}, "mailer", 422,
     "not an e-mail address"),
    ("/inbound/email", {"queue": "mail", "message_id": "a b", "sender": "ann@x.org"}, "mailer", 422,
     "not a Message-ID"),
    ("/inbound/email", {"queue": "telegram", "message_id": "<a@b.c>", "sender": "ann@x.org"}, "mailer", 404,
     "no email queue"),
    ("/inbound/email", {"queue": "mail", "message_id": "<a@b.c>", "sender": "ann@x.org", "body": BIG}, "mailer",
     413, "larger than"),
    ("/inbound/email", {"queue": "mail", "message_id": "<a@b.c>", "sender": "ann@x.org"}, "anna", 403, "email"),
    ("/inbound/form", {"form": "nope", "fields": {"email": "a@x.org"}}, "integration", 404, "no form queue"),
    ("/inbound/form", {"form": "contact", "fields": {"email": ["a"]}}, "integration", 422, "fields"),
    ("/conversations/{cid}/accept", {}, "boris", 403, "offered to anna, not to boris"),
    ("/conversations/{cid}/accept", {"agent_id": "anna"}, "boris", 403, "only for themselves"),
    ("/conversations/{cid}/accept", {}, "boss", 422, '"item":"agent_id"'),
    ("/conversations/{cid}/accept", {"agent_id": "zoe"}, "boss", 404, "no agent 'zoe'"),
    ("/conversations/nope/accept", {}, "anna", 404, "no open conversation"),
    ("/conversations/{cid}/answer", {"text": ""}, "anna", 422, "text"),
    ("/conversations/{cid}/close", None, "boris", 403, "offered to anna, not to boris"),
    ("/conversations/{cid}/transfer", {"to_agent": "zoe"}, "anna", 404, "no agent 'zoe'"),
    ("/conversations/{cid}/transfer", {"to_queue": "viber"}, "anna", 404, "no chat queue 'viber'"),
    ("/conversations/{cid}/transfer", {"to_queue": "mail"}, "anna", 404, "no chat queue 'mail'"),
    ("/conversations/{cid}/transfer", {"to_agent": "boris", "to_queue": "telegram"}, "anna", 422, "name one"),
    ("/conversations/{cid}/transfer", {}, "anna", 422, "name one target"),
    ("/conversations/{cid}/transfer", {"to_agent": "anna"}, "anna", 409, "anna has it already"),
    ("/agents/zoe/clock-in", None, "boss", 404, "no agent 'zoe'"),
    ("/agents/boris/clock-in", None, "anna", 403, "their own"),
    ("/agents/anna/breaks", {"starts_at": 2e9, "ends_at": 1e9}, "anna", 422, "after starts_at"),
    ("/agents/anna/breaks", {"starts_at": 1e9, "ends_at": 1.1e9}, "anna", 422, "over already"),
    ("/agents/anna/presence", {"online": "maybe"}, "anna", 422, "online"),
]


@pytest.mark.parametrize(("path", "body", "user", "status", "words"), CASES,
                         ids=[f"{c[3]}-{c[0]}-{c[4]}" for c in CASES])
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(db_url: str, path: str, body: Any, user: str | None,
                                                              status: int, words: str) -> None:
    async with Service(CONFIG, db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:1")  # offered to anna
        await svc.desk.flush()
        before = (svc.desk.router.snapshot(), svc.desk.history.counts(), list(svc.desk.alerts))
        kw = {"content": body, "headers": {"Content-Type": "application/json", **svc.headers(user)}} \
            if isinstance(body, bytes) else {"json": body, "headers": svc.headers(user)}
        response = await svc.http.post(f"/api/channels{path.format(cid=cid)}", **kw)
        assert response.status_code == status, response.text
        assert words in response.text
        await svc.desk.flush()
        assert (svc.desk.router.snapshot(), svc.desk.history.counts(), list(svc.desk.alerts)) == before


@pytest.mark.parametrize(("path", "user", "status"), [
    ("/agents/boris/queue", "anna", 403),
    ("/agents/boris/work-state", "anna", 403),
    ("/agents/zoe/work-state", "boss", 404),
    ("/queues/viber/waiting", "boss", 404),
    ("/alerts", "anna", 403),
    ("/conversations/{cid}", "boris", 403),
    ("/conversations/{cid}/timeline", "boris", 403),
    ("/conversations/chat-unknown/timeline", "boss", 404),
    ("/alerts", None, 401),
])
async def test_reads_are_refused_the_same_way(db_url: str, path: str, user: str | None, status: int) -> None:
    async with Service(CONFIG, db_url, FakeClock()) as svc:
        cid = await svc.chat("telegram:1")
        await svc.get(path.format(cid=cid), as_=user, expect=status)


async def test_an_oversized_body_without_a_length_is_cut_off_while_read(db_url: str) -> None:
    async with Service(CONFIG, db_url, FakeClock()) as svc:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b'{"queue": "telegram", "client": "tg:1", "text": "'
            for _ in range(MAX_BODY // 4096 + 2):
                yield b"x" * 4096
            yield b'"}'

        response = await svc.http.post("/api/channels/inbound/chat", content=chunks(),
                                       headers={"Content-Type": "application/json", **svc.headers("integration")})
        assert response.status_code == 413
        assert svc.desk.router.conversations == {}
