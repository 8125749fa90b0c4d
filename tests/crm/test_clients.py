from sqlalchemy.orm import Session

from acd.core.commands import ReportManualTransfer
from acd.crm import (
    Client,
    CrmOptions,
    Identity,
    Interaction,
    OutboxJob,
    ReportChatTransfer,
    activities,
    add_client,
    create_lead,
    find_client,
    list_outbox,
    on_answered,
    on_chat_transfer,
    on_manual_transfer,
    on_missed,
    owner_for,
    recognise,
    set_owner,
)

from .support import tx

NOW = 1_700_000_000.0
ON = CrmOptions()
HOOK = ("hook",)


def phone(raw: str, region: str = "DE") -> Identity:
    return Identity.phone(raw, region)


def transfer(number: str = "+49 30 1234567", to: str = "boris", frm: str | None = "anna") -> ReportManualTransfer:
    return ReportManualTransfer("call-1", number, frm, to, "blind")


def test_a_client_is_found_by_any_of_its_identities_in_any_format(session: Session):
    with tx(session):
        ann = add_client(session, [phone("030 1234567"), Identity.email("Ann@Example.org")], owner="anna", now=NOW)
    assert find_client(session, phone("+49 30 123 45 67")) is ann
    assert find_client(session, Identity.email("ANN@example.ORG")) is ann
    assert find_client(session, phone("+49 30 7654321")) is None


def test_a_telegram_user_who_later_calls_is_one_client(session: Session):
    telegram = Identity.messenger("telegram", "12345")
    with tx(session):  # an unknown Telegram user writes; anna answers: a lead of hers
        lead_id = on_answered(session, Interaction("chat-1", "telegram", (telegram,), NOW), "anna", ON,
                              targets=HOOK, now=NOW)
    lead = session.get(Client, lead_id)
    assert lead is not None and (lead.kind, lead.owner) == ("lead", "anna")
    with tx(session):  # in a later chat the client gives a phone number: linked
        assert recognise(session, [telegram, phone("+49 30 1234567")], now=NOW + 60) is lead
    with tx(session):  # then calls from that number, dialled nationally: the same client
        call = Interaction.call("call-9", "030 1234567", NOW + 3600, region="DE")
        assert on_answered(session, call, "boris", ON, targets=HOOK, now=NOW + 3600) == lead.id
    assert session.query(Client).count() == 1
    assert owner_for(session, phone("0049 30 1234567")) == "anna"
    assert [a.kind for a in activities(session, lead.id)] == ["lead_created", "identity_linked"]


def test_an_identity_of_another_client_is_not_taken_over(session: Session):
    with tx(session):
        ann = add_client(session, [phone("030 1111111")], owner="anna", now=NOW)
        bob = add_client(session, [phone("030 2222222")], owner="boris", now=NOW)
        assert recognise(session, [phone("030 1111111"), phone("030 2222222")], now=NOW) is ann
    assert find_client(session, phone("030 2222222")) is bob


def test_an_unknown_caller_gets_a_lead_owned_by_the_agent_who_answered_and_one_job(session: Session):
    with tx(session):
        lead_id = on_answered(session, Interaction.call("c1", "+49 30 1234567", NOW, region="DE"), "clara", ON,
                              targets=HOOK, now=NOW)
    lead = session.get(Client, lead_id)
    assert lead is not None and lead.owner == "clara"
    [job] = list_outbox(session)
    assert (job.event, job.target, job.payload["client"]["phones"]) == ("lead.created", "hook", ["+49301234567"])


def test_no_lead_when_the_option_is_off(session: Session):
    with tx(session):
        assert on_answered(session, Interaction.call("c1", "+49 30 1234567", NOW, region="DE"), "clara",
                           CrmOptions(create_lead=False), targets=HOOK, now=NOW) is None
    assert session.query(Client).count() == 0 and list_outbox(session) == []


def test_a_manual_transfer_makes_the_new_agent_owner_with_one_job_per_target(session: Session):
    with tx(session):
        client = create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    with tx(session):
        jobs = on_manual_transfer(session, transfer(), ON, region="DE", targets=("hook", "bitrix"), now=NOW + 5)
    assert client.owner == "boris" and client.revision == 1
    assert [(j.target, j.event) for j in jobs] == [("hook", "owner.changed"), ("bitrix", "owner.changed")]
    assert jobs[0].payload["previous_owner"] == "anna" and jobs[0].payload["owner"] == "boris"
    assert jobs[0].idempotency_key != jobs[1].idempotency_key
    change = activities(session, client.id)[-1]
    assert (change.kind, change.agent, change.detail["to"]) == ("owner_changed", "anna", "boris")


def test_the_same_transfer_reported_twice_pushes_once(session: Session):
    with tx(session):
        create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    for _ in range(2):
        with tx(session):
            on_manual_transfer(session, transfer(), ON, region="DE", targets=HOOK, now=NOW)
    assert len(list_outbox(session)) == 1


def test_the_owner_stays_when_the_transfer_option_is_off(session: Session):
    with tx(session):
        client = create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    with tx(session):
        jobs = on_manual_transfer(session, transfer(), CrmOptions(owner_follows_transfer=False), region="DE",
                                  targets=HOOK, now=NOW)
    assert jobs == [] and client.owner == "anna"


def test_a_transferred_unknown_caller_becomes_a_lead_of_the_new_agent(session: Session):
    with tx(session):
        jobs = on_manual_transfer(session, transfer(to="dmitri"), ON, region="DE", targets=HOOK, now=NOW)
    assert [j.event for j in jobs] == ["lead.created"]
    assert find_client(session, phone("030 1234567")).owner == "dmitri"


def test_an_anonymous_transferred_call_touches_no_client(session: Session):
    with tx(session):
        assert on_manual_transfer(session, transfer("anonymous"), ON, region="DE", targets=HOOK, now=NOW) == []


def test_a_chat_transfer_moves_the_owner_by_messenger_identity(session: Session):
    with tx(session):
        client = create_lead(session, [Identity.messenger("telegram", "777")], "anna", now=NOW)
    with tx(session):
        [job] = on_chat_transfer(session, ReportChatTransfer("conv-1", "telegram", "777", "anna", "boris"), ON,
                                 targets=HOOK, now=NOW)
    assert client.owner == "boris" and job.payload["channel"] == "telegram"


def test_a_missed_call_is_logged_on_the_client_and_registered(session: Session):
    with tx(session):
        client = create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    with tx(session):
        jobs = on_missed(session, Interaction.call("c7", "030 1234567", NOW, region="DE", queue="sales"), "anna", ON,
                         targets=HOOK, now=NOW)
    assert [j.event for j in jobs] == ["call.finished"]
    assert jobs[0].payload["call"]["answered"] is False
    missed = activities(session, client.id)[-1]
    assert (missed.kind, missed.detail["call_id"], missed.detail["queue"]) == ("missed_call", "c7", "sales")


def test_a_missed_call_from_an_unknown_number_leaves_a_lead_for_the_responsible(session: Session):
    with tx(session):
        jobs = on_missed(session, Interaction.call("c8", "030 7654321", NOW, region="DE"), "clara", ON,
                         targets=HOOK, now=NOW)
    assert [j.event for j in jobs] == ["lead.created", "call.finished"]
    assert jobs[0].order_key == jobs[1].order_key  # the lead reaches the CRM before its call
    assert find_client(session, phone("030 7654321")).owner == "clara"


def test_missed_calls_are_not_recorded_when_the_option_is_off(session: Session):
    with tx(session):
        assert on_missed(session, Interaction.call("c8", "030 7654321", NOW, region="DE"), "clara",
                         CrmOptions(record_missed=False), targets=HOOK, now=NOW) == []
    assert session.query(Client).count() == 0


def test_owner_first_follows_the_options(session: Session):
    with tx(session):
        create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    assert owner_for(session, phone("030 1234567")) == "anna"
    assert owner_for(session, phone("030 1234567"), options=CrmOptions(owner_first=False)) is None
    assert owner_for(session, phone("030 1234567"), options=CrmOptions(check_client=False)) is None


def test_a_change_and_its_job_commit_together_or_not_at_all(session: Session):
    with tx(session):
        create_lead(session, [phone("030 1234567")], "anna", now=NOW)
    on_manual_transfer(session, transfer(), ON, region="DE", targets=HOOK, now=NOW)
    session.rollback()
    assert find_client(session, phone("030 1234567")).owner == "anna"
    assert session.query(OutboxJob).filter_by(event="owner.changed").count() == 0


def test_set_owner_to_the_same_agent_changes_nothing(session: Session):
    with tx(session):
        client = create_lead(session, [phone("030 1234567")], "anna", now=NOW)
        assert set_owner(session, client, "anna", now=NOW, reason="test") is None
        change = set_owner(session, client, "boris", now=NOW, reason="test")
    assert change is not None and (change.previous, change.owner, change.revision) == ("anna", "boris", 1)


def test_the_conversation_routers_transfer_moves_the_owner(session: Session):
    from acd.core.conversation_model import ReportConversationTransfer
    from acd.crm import on_conversation_transfer

    with tx(session):
        client = create_lead(session, [Identity.messenger("telegram", "42")], "anna", now=NOW)
    with tx(session):
        report = ReportConversationTransfer("conv-1", "tg:42", "anna", "boris", "agent")
        [job] = on_conversation_transfer(session, report, ON, region="DE", targets=HOOK, now=NOW)
    assert client.owner == "boris" and job.payload["channel"] == "telegram"


def test_the_conversation_routers_create_lead_makes_one_lead(session: Session):
    from acd.core.conversation_model import ChannelKind, CreateLead
    from acd.crm import on_create_lead

    command = CreateLead("msg-1", "support", ChannelKind.EMAIL, "Ann@Example.org", "clara")
    with tx(session):
        [job] = on_create_lead(session, command, ON, region="DE", targets=HOOK, now=NOW)
    with tx(session):  # the same mail handled twice: still one lead
        assert on_create_lead(session, command, ON, region="DE", targets=HOOK, now=NOW) == []
    lead = find_client(session, Identity.email("ann@example.org"))
    assert (lead.kind, lead.owner, job.payload["channel"]) == ("lead", "clara", "email")
