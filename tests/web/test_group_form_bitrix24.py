"""Saving a queue group's page keeps the CRM settings the page does not show."""

from __future__ import annotations

from starlette.datastructures import FormData

from acd.web.telephony import group_from_form


def test_saving_the_group_page_keeps_bitrix24s_transfer_setting():
    existing = {"id": "sales", "members": ["anna"], "crm": {"transfer_updates": "deal", "create_lead": True}}
    form = FormData([("name", "Sales"), ("members", "anna"), ("mode", "strict"), ("crm.shown", "1"),
                     ("crm.check_client", "on"), ("crm.owner_first", "on")])
    group = group_from_form(form, existing)
    assert group["crm"]["transfer_updates"] == "deal"
    assert group["crm"]["create_lead"] is False and group["crm"]["owner_first"] is True  # the page's ticks
