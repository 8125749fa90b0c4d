"""The queue group form in the reference product's words, showing only the settings of
the chosen missed-call action (with or without a script)."""

from __future__ import annotations

import re

from .conftest import Service, login
from .visible import visible_text


def shown_fields(page: str) -> set[str]:
    """The missed-call fields the page shows (a hidden one has the ``hidden`` attribute)."""
    fields = re.findall(r'<div class="field" data-for="[^"]*"( hidden)?>\s*<label for="missed\.(\w+)"', page)
    return {name for hidden, name in fields if not hidden}


def test_the_group_form_says_bitrix24s_words(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    page = visible_text(login(service.app, "ann").get("/groups/sales").text)
    for words in ("strictly in list order", "evenly", "all at once", "Missed-call processing",
                  "forward to another queue group", "Allow call pickup in this group"):
        assert words in page
    assert "strict:" not in page and "keep_waiting" not in page and "forward_group" not in page


def test_only_the_chosen_actions_fields_are_shown_and_the_no_script_button_shows_anothers(service: Service) -> None:
    service.user("ann", permissions={"telephony"})
    client = login(service.app, "ann")
    assert shown_fields(client.get("/groups/sales").text) == {"person"}  # voicemail: whose mailbox
    form = {"csrf_token": client.csrf, "name": "Sales", "members": ["anna", "ben"], "mode": "strict",
            "missed.action": "forward_group", "action": "show"}
    page = client.post("/groups/sales", data=form)
    assert page.status_code == 200 and "Not saved yet" in page.text
    assert shown_fields(page.text) == {"group"}
    assert service.settings.group("sales").missed.action.value == "voicemail"  # only Save saves
    page = client.post("/groups/sales", data={**form, "missed.action": "keep_waiting",
                                              "missed.after_wait": "forward_number"})
    assert shown_fields(page.text) == {"max_wait_seconds", "retry_seconds", "after_wait", "number",
                                       "forward_ring_seconds"}
