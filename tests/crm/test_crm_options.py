"""The CRM's options per queue group and per chat queue, from the settings."""

from acd.config import settings_from_dict
from acd.crm.calls import crm_options
from acd.crm.options import CrmOptions


def test_groups_and_chat_queues_each_get_their_own_crm_options() -> None:
    settings = settings_from_dict({
        "agents": [{"id": "anna", "endpoint": "PJSIP/101"}],
        "groups": [{"id": "sales", "members": ["anna"], "crm": {"owner_follows_transfer": False}}],
        "channels": [{"id": "web", "members": ["anna"], "check_client": False},
                     {"id": "tg", "members": ["anna"], "owner_follows_transfer": False}],
    })
    options = crm_options(settings)
    assert options["sales"] == CrmOptions(owner_follows_transfer=False)
    assert options["web"] == CrmOptions(check_client=False)
    assert options["tg"] == CrmOptions(owner_follows_transfer=False)
