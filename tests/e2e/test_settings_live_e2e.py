"""What the settings pages save reaches the running service at once: the queue groups'
CRM options, a chat queue's options and a mailbox's IMAP connection."""

from __future__ import annotations

from pathlib import Path

from .stack import running

SALES = {"id": "sales", "members": ["anna", "boris"], "mode": "strict", "rings": 2}


async def test_new_crm_chat_and_mailbox_settings_apply_to_the_running_service(tmp_path: Path) -> None:
    async with running(tmp_path, [SALES], crm={"region": "US"}) as s:
        assert s.acd.crm_feed.options["sales"].owner_follows_transfer is True
        new = s.acd.settings.with_changes({
            "groups": [{**SALES, "crm": {"owner_follows_transfer": False, "create_lead": False}}],
            "channels": [
                {"id": "web", "members": ["anna", "boris"], "mode": "evenly", "idle_seconds": 60, "capacity": 2,
                 "check_client": False},
                {"id": "mail", "kind": "email", "members": ["boris"],
                 "imap": {"host": "127.0.0.1", "port": 1, "ssl": False, "username": "u",
                          "password_env": "E2E_NO_SUCH_PASSWORD", "poll_seconds": 3600}},
            ]})
        s.acd.apply_settings(new)
        options = s.acd.crm_feed.options
        assert options["sales"].owner_follows_transfer is False and options["sales"].create_lead is False
        assert options["web"].check_client is False
        queue = s.acd.desk.config.queues["web"]
        assert (queue.idle_s, queue.capacity, queue.check_client) == (60.0, 2, False)
        assert [p.queue_id for p in s.acd.desk.pollers] == ["mail"]
