from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from acd.config import ConfigError, Settings, load_settings, settings_from_dict
from acd.core.model import MissedAction, Mode, RoutingConfig

EXAMPLE = Path(__file__).resolve().parents[1] / "acd.example.toml"

AGENTS = """
[[agents]]
id = "anna"
endpoint = "PJSIP/101"
mobile = "+4915100000001"

[[agents]]
id = "ben"
endpoint = "PJSIP/102"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "acd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(str(path)), message  # every error names the file
    return message


@pytest.fixture(autouse=True)
def no_secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACD_AMI_SECRET", raising=False)


# ------------------------------------------------------------------ the example
def test_the_example_file_loads_and_builds_the_routing_model() -> None:
    settings = load_settings(EXAMPLE)
    routing = settings.routing()
    assert isinstance(routing, RoutingConfig)
    assert len(routing.agents) == 4
    assert {g.mode for g in routing.groups.values()} == {Mode.STRICT, Mode.EVENLY, Mode.ALL}
    assert routing.group_for("+4930111111").id == "sales"  # type: ignore[union-attr]
    assert routing.group_for("+4999999").id == "support"  # type: ignore[union-attr]  # default group
    assert routing.agent_by_endpoint("pjsip/103").id == "chloe"  # type: ignore[union-attr]
    assert routing.pause_reasons == ("lunch", "training", "after-call work") and routing.stuck_after_s == 30
    assert (routing.groups["sales"].pause_after_missed, routing.groups["sales"].auto_resume_s) == (3, 900)


def test_the_example_shows_every_missed_call_action() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for action in MissedAction:
        assert f'action = "{action.value}"' in text


def test_defaults_fill_in_what_the_file_leaves_out(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["anna", "ben"]\n'))
    assert settings.service.port == 8000 and settings.service.host == "127.0.0.1"
    assert settings.service.database == "sqlite:///acd.db"
    assert (settings.ami.port, settings.ami.trunk, settings.ami.pickup_code, settings.ami.simulate) == (
        5038, "trunk", "*11", "never"
    )
    anna = settings.agent("anna")
    assert anna is not None and anna.extension == "101" and anna.name == "anna"
    group = settings.routing().groups["g"]
    assert (group.mode, group.rings, group.ring_seconds, group.missed.action) == (
        Mode.STRICT, 3, 5.0, MissedAction.VOICEMAIL
    )
    assert group.members == ("anna", "ben")


# ------------------------------------------------------------------ errors name file, item, problem
def test_a_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[service]\nport = 8000\nhost = \n')
    assert "line 3, column" in message and "invalid TOML" in message


def test_a_missing_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.toml: cannot read the file"):
        load_settings(tmp_path / "nope.toml")


def test_an_unknown_member_names_the_group_and_position(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + """
[[groups]]
id = "support"
members = ["anna"]

[[groups]]
id = "sales"
members = ["anna", "ben", "bob"]
""")
    assert 'groups[1] "sales".members[2]: unknown agent "bob"' in message


def test_a_misspelt_setting_is_an_error_not_ignored(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["anna"]\nring_second = 4\n')
    assert 'groups[0] "g".ring_second: unknown setting' in message


def test_rings_must_be_between_two_and_seven(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["anna"]\nrings = 9\n')
    assert 'groups[0] "g".rings:' in message and "7" in message


def test_bad_ids_and_endpoints_are_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[agents]]\nid = "anna b"\nendpoint = "101"\n')
    assert 'agents[0] "anna b".id: not a valid id' in message
    assert 'agents[0] "anna b".endpoint: not an Asterisk device' in message


def test_duplicate_ids_and_endpoints_are_errors(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[agents]]\nid = "anna"\nendpoint = "pjsip/102"\n')
    assert 'agents[2] "anna".id: id "anna" is already used by agents[0] "anna"' in message
    assert 'agents[2] "anna".endpoint: endpoint "pjsip/102" is already used by agents[1] "ben"' in message


def test_numbers_must_look_like_phone_numbers(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["anna"]\n[numbers]\n"030 CALL" = "g"\n')
    assert 'numbers."030 CALL" (the key): not a phone number' in message


def test_numbers_must_name_known_groups(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["anna"]\n[numbers]\n"+4930111" = "sales"\n')
    assert 'numbers."+4930111": unknown group "sales" (known: g)' in message


def test_default_group_must_exist() -> None:
    with pytest.raises(ConfigError, match='default_group: unknown group "nobody"'):
        settings_from_dict({"default_group": "nobody"})


@pytest.mark.parametrize(
    ("missed", "expected"),
    [
        ({"action": "forward_number"},
         'groups[0] "g".missed.action: To forward to a phone number, give the phone number to forward to'),
        ({"action": "forward_number", "number": "call me"}, 'groups[0] "g".missed.number: not a phone number'),
        ({"action": "forward_mobile", "person": "ben"}, 'needs a mobile number: agent "ben" has none'),
        ({"action": "forward_group", "group": "g"}, 'groups[0] "g".missed.group: a group cannot forward to itself'),
        ({"action": "forward_group", "group": "x"}, 'groups[0] "g".missed.group: unknown group "x"'),
        ({"action": "forward_group"}, "To forward to another queue group, choose the queue group to forward to"),
        ({"action": "voicemail", "person": "zoe"}, 'groups[0] "g".missed.person: unknown agent "zoe"'),
        ({"action": "keep_waiting", "after_wait": "keep_waiting"},
         "missed.after_wait: After the longest wait: choose something other than keeping the caller waiting"),
        ({"action": "keep_waiting", "after_wait": "forward_number"}, "missed.after_wait: To forward to a phone number"),
        ({"action": "fax"}, 'groups[0] "g".missed.action: If nobody answers: choose one of \'voicemail\''),
    ],
)
def test_missed_call_actions_are_checked(missed: dict[str, Any], expected: str) -> None:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": "g", "members": ["anna", "ben"], "missed": missed}]
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, source="api")
    assert str(info.value).startswith("api: ")
    assert expected in str(info.value)


def forwarding(*pairs: tuple[str, str], waiting: str = "") -> dict[str, Any]:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": g, "members": ["anna"], "missed": {"action": "forward_group", "group": to}}
                      for g, to in pairs]
    if waiting:  # keep waiting first, then forward (after_wait)
        data["groups"].append({"id": waiting, "members": ["ben"], "missed": {
            "action": "keep_waiting", "after_wait": "forward_group", "group": pairs[0][0]}})
    return data


def test_a_loop_of_group_forwards_is_refused_and_named() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict(forwarding(("sales", "support"), ("support", "sales")), source="api")
    assert str(info.value) == ('api: groups[0] "sales".missed.group: missed calls would be forwarded in a loop: '
                               '"sales" -> "support" -> "sales"')


def test_a_longer_loop_is_named_once_and_a_chain_into_it_is_not_blamed() -> None:
    data = forwarding(("entry", "a"), ("a", "b"), ("b", "c"), ("c", "a"))
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    message = str(info.value)
    assert message.count("in a loop") == 1 and '"a" -> "b" -> "c" -> "a"' in message
    assert '"entry"' not in message


def test_keep_waiting_then_forward_counts_in_a_loop() -> None:
    data = forwarding(("sales", "night"), waiting="night")
    with pytest.raises(ConfigError, match='"sales" -> "night" -> "sales"'):
        settings_from_dict(data)


def test_a_chain_of_forwards_without_a_loop_is_fine() -> None:
    data = forwarding(("a", "b"), ("b", "c"))
    data["groups"].append({"id": "c", "members": ["ben"]})
    assert settings_from_dict(data).routing().groups["b"].missed.group == "c"


def test_forward_mobile_uses_the_first_member_by_default() -> None:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": "g", "members": ["anna", "ben"], "missed": {"action": "forward_mobile"}}]
    assert settings_from_dict(data).routing().groups["g"].responsible == "anna"
    data["groups"][0]["members"] = ["ben", "anna"]
    with pytest.raises(ConfigError, match='agent "ben" has none'):
        settings_from_dict(data)


def test_all_problems_come_in_one_error(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + '[[groups]]\nid = "g"\nmembers = ["x", "y"]\n')
    assert "2 problems" in message
    assert "members[0]" in message and "members[1]" in message


# ------------------------------------------------------------------ secrets
def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "s3cr3t-from-env")
    settings = load_settings(EXAMPLE)
    assert settings.ami.secret is not None
    assert settings.ami.secret.get_secret_value() == "s3cr3t-from-env"


def test_the_file_secret_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "from-env")
    settings = load_settings(write(tmp_path, '[ami]\nsecret = "from-file"\n'))
    assert settings.ami.secret is not None and settings.ami.secret.get_secret_value() == "from-file"


def test_the_secret_never_shows_in_repr_or_dumps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "s3cr3t-from-env")
    settings = settings_from_dict(
        {"service": {"database": "postgresql://acd:db-pa55@db/acd"}, "ami": {"username": "acd"}}
    )
    for text in (repr(settings), str(settings), repr(settings.ami), str(settings.to_dict()),
                 str(settings.model_dump()), settings.model_dump_json()):
        assert "s3cr3t-from-env" not in text
    assert "db-pa55" not in repr(settings) and "db-pa55" not in str(settings.to_dict())
    assert settings.to_dict()["service"]["database"] == "postgresql://acd:***@db/acd"


@pytest.mark.parametrize("url", ["mysql://acd:TOPSECRET@db/acd", "postgresql+psycopg2://acd:TOPSECRET@db/acd",
                                 "acd:TOPSECRET@db/acd"])
def test_a_database_acd_cannot_use_is_refused_without_echoing_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"service": {"database": url}})
    message = str(info.value)
    assert "service.database: not a database acd can use" in message and "postgresql+psycopg://" in message
    assert "TOPSECRET" not in message


def test_a_postgresql_url_without_a_driver_uses_psycopg() -> None:
    from acd.store.database import make_engine

    engine = make_engine("postgresql://acd:pw@db.invalid/acd")  # no connection is made here
    assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def test_a_wrong_secret_type_does_not_echo_the_value() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({"ami": {"secret": 123456789}})
    assert "ami.secret" in str(info.value) and "123456789" not in str(info.value)


def test_a_missing_secret_is_no_load_error_the_ami_link_names_it_at_each_try() -> None:
    settings = settings_from_dict({"ami": {"simulate": "never"}})
    assert settings.ami.secret is None and not settings.ami.simulated and settings.warnings() == []


def test_the_example_connects_to_asterisk_only() -> None:
    settings = load_settings(EXAMPLE)
    assert settings.ami.simulate == "never" and not settings.ami.simulated
    assert settings.warnings() == []


def test_simulate_always_asks_for_the_simulator() -> None:
    assert settings_from_dict({"ami": {"simulate": "always"}}).ami.simulated


def test_the_obsolete_simulate_auto_loads_as_never_with_a_warning() -> None:
    settings = settings_from_dict({"ami": {"simulate": "auto"}})
    assert not settings.ami.simulated
    [(item, warning)] = settings.warnings()
    assert item == "ami.simulate" and 'now means "never"' in warning and 'simulate = "never"' in warning


def test_an_unknown_simulate_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="ami.simulate"):
        settings_from_dict({"ami": {"simulate": "sometimes"}})


# ------------------------------------------------------------------ dict round trip and edits
def test_dump_is_toml_shaped_and_loads_back(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(EXAMPLE)
    data = settings.to_dict()
    assert "secret" not in data["ami"]
    assert data["groups"][0]["mode"] == "strict" and data["groups"][1]["missed"]["action"] == "keep_waiting"

    def no_none(value: Any) -> None:
        assert value is not None
        for child in value.values() if isinstance(value, dict) else value if isinstance(value, list) else []:
            no_none(child)

    no_none(data)
    assert settings_from_dict(data) == settings


def test_changes_give_a_new_validated_settings_and_keep_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "kept")
    settings = load_settings(EXAMPLE)
    monkeypatch.delenv("ACD_AMI_SECRET")
    groups = settings.to_dict()["groups"]
    groups[0]["members"] = ["dev", "anna"]
    changed = settings.with_changes({"groups": groups})
    assert changed.routing().groups["sales"].members == ("dev", "anna")
    assert changed.ami.secret is not None and changed.ami.secret.get_secret_value() == "kept"
    assert settings.routing().groups["sales"].members == ("anna", "ben", "chloe")  # untouched

    groups[0]["members"] = ["dev", "zed"]
    with pytest.raises(ConfigError, match=r'<api>: groups\[0\] "sales".members\[1\]: unknown agent "zed"'):
        settings.with_changes({"groups": groups})


def test_settings_are_frozen() -> None:
    settings = load_settings(EXAMPLE)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        settings.default_group = "sales"  # type: ignore[misc]
    assert isinstance(settings, Settings)


def test_the_environment_secret_is_read_at_load_time_even_without_an_ami_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, AGENTS)
    assert load_settings(path).ami.secret is None
    monkeypatch.setenv("ACD_AMI_SECRET", "later")
    secret = load_settings(path).ami.secret
    assert secret is not None and secret.get_secret_value() == "later"


# ------------------------------------------------------------------ other channels and work time
CHANNELS = AGENTS + """
[agents.work]
time_zone = "Europe/Berlin"
hours = ["mon-fri 09:00-18:00", "sat 10:00-14:00"]
breaks = ["mon-fri 13:00-14:00"]
capacity = 4
"""


def test_the_example_file_builds_the_conversation_model() -> None:
    from acd.core.conversation_model import ChannelKind

    config = load_settings(EXAMPLE).conversations()
    assert {q.kind for q in config.queues.values()} == set(ChannelKind)
    assert config.queues["telegram"].members == ("anna", "ben", "chloe")
    assert config.queues["site-chat"].idle_s is None and config.queues["site-chat"].mode is Mode.ALL
    ben = config.agents["ben"]
    assert ben.capacity == 3 and ben.schedule is not None and ben.schedule.time_zone == "Europe/Berlin"
    assert config.agents["anna"].schedule is None  # no [agents.work]: always working


def test_work_time_becomes_a_weekly_schedule(tmp_path: Path) -> None:
    from datetime import time

    data = tomllib.loads(CHANNELS)
    data["channels"] = [{"id": "tg", "members": ["ben", "anna"], "idle_seconds": "never", "capacity": 2}]
    config = settings_from_dict(data).conversations()
    schedule = config.agents["ben"].schedule
    assert schedule is not None and schedule.clock_in_required
    assert schedule.hours is not None and schedule.hours[5] == ((time(10), time(14)),) and 6 not in schedule.hours
    assert schedule.breaks[0] == ((time(13), time(14)),)
    assert config.agents["ben"].capacity == 4
    queue = config.queues["tg"]
    assert (queue.idle_s, queue.capacity, queue.members) == (None, 2, ("ben", "anna"))


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"members": ["anna", "zoe"]}, 'channels[0] "tg".members[1]: unknown agent "zoe"'),
        ({"members": ["anna", "anna"]}, 'channels[0] "tg".members[1]: agent "anna" is listed twice'),
        ({"idle_seconds": 30}, 'channels[0] "tg".idle_seconds: must be 60 (1 minute) .. 43200'),
        ({"idle_seconds": 50000}, 'channels[0] "tg".idle_seconds: must be 60'),
        ({"idle_seconds": "sometimes"}, 'channels[0] "tg".idle_seconds'),
        ({"capacity": 0}, 'channels[0] "tg".capacity'),
        ({"kind": "fax"}, 'channels[0] "tg".kind'),
        ({"kind": "form", "mode": "all"}, 'channels[0] "tg".mode: form queues assign in turn'),
        ({"imap": {"host": "h", "username": "u", "password_env": "P"}}, 'channels[0] "tg".imap: only a kind = "email"'),
        ({"kind": "email", "imap": {"host": "h", "username": "u", "password": "hunter2", "password_env": "P"}},
         'channels[0] "tg".imap: a password does not belong in the file'),
        ({"kind": "email", "imap": {"host": "h", "username": "u", "password_env": "not a name"}},
         'channels[0] "tg".imap.password_env: not an environment variable name'),
        ({"id": "g"}, 'channels[0] "g".id: id "g" is already used by a queue group'),
    ],
)
def test_channel_queues_are_checked(channel: dict[str, Any], expected: str) -> None:
    data = tomllib.loads(AGENTS)
    data["groups"] = [{"id": "g", "members": ["anna"]}]
    data["channels"] = [{"id": "tg", "members": ["anna", "ben"], **channel}]
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data, source="api")
    assert expected in str(info.value)
    assert "hunter2" not in str(info.value)


def test_a_chat_queues_crm_options_and_hours_reach_the_core() -> None:
    data = tomllib.loads(AGENTS)
    data["channels"] = [{"id": "tg", "members": ["anna"], "check_client": False, "chat_tracking": False,
                         "owner_follows_transfer": False, "working_hours": ["mon-fri 09:00-18:00"],
                         "time_zone": "Europe/Berlin", "auto_reply": "Closed.", "waiting_message": "Hold on."}]
    queue = settings_from_dict(data).conversations().queues["tg"]
    assert (queue.check_client, queue.chat_tracking, queue.owner_follows_transfer) == (False, False, False)
    assert queue.owner_first is False  # no look-up: nobody to route to first
    assert queue.hours is not None and queue.hours.time_zone == "Europe/Berlin" and not queue.hours.clock_in_required
    assert queue.hours.in_hours(1709546400.0)  # Monday 2024-03-04 11:00 in Berlin
    assert (queue.auto_reply, queue.waiting_message) == ("Closed.", "Hold on.")


@pytest.mark.parametrize(
    ("work", "expected"),
    [
        ({"hours": ["mon-fry 09:00-18:00"]}, 'agents[0] "anna".work.hours: not days like "mon-fri"'),
        ({"hours": ["mon-fri 9-18"]}, 'agents[0] "anna".work.hours: not times like "09:00-18:00"'),
        ({"breaks": ["13:00-14:00"]}, 'agents[0] "anna".work.breaks'),
        ({"time_zone": "Mars/Olympus"}, 'agents[0] "anna".work.time_zone: unknown time zone'),
        ({"capacity": 1001}, 'agents[0] "anna".work.capacity'),
        ({"clock_in": True}, 'agents[0] "anna".work.clock_in: unknown setting'),
    ],
)
def test_work_time_is_checked(work: dict[str, Any], expected: str) -> None:
    data = tomllib.loads(AGENTS)
    data["agents"][0]["work"] = work
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    assert expected in str(info.value)


def test_a_second_channel_with_the_same_id_is_named(tmp_path: Path) -> None:
    message = error_of(tmp_path, AGENTS + """
[[channels]]
id = "tg"
members = ["anna"]

[[channels]]
id = "tg"
kind = "email"
members = ["ben"]
""")
    assert 'channels[1] "tg".id: id "tg" is already used by channels[0] "tg"' in message


def example_with_imap(tmp_path: Path) -> Path:
    """The example with its commented-out [channels.imap] lines switched on."""
    text = EXAMPLE.read_text(encoding="utf-8")
    start = text.index("# [channels.imap]")
    end = text.index("\n\n", start)
    block = "\n".join(line.removeprefix("# ") for line in text[start:end].splitlines())
    return write(tmp_path, text[:start] + block + text[end:])


def test_the_example_fetches_no_mail_until_told_where(tmp_path: Path) -> None:
    # a mailbox without its password logs an error at every start: the example names none
    assert all(c.imap is None for c in load_settings(EXAMPLE).channels)
    switched_on = load_settings(example_with_imap(tmp_path)).channel("mail-sales")
    assert switched_on is not None and switched_on.imap is not None
    assert switched_on.imap.password_env == "ACD_IMAP_SALES_PASSWORD"


def test_the_imap_password_comes_from_the_named_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    settings = load_settings(example_with_imap(tmp_path))
    imap = settings.channel("mail-sales").imap  # type: ignore[union-attr]
    assert imap is not None
    monkeypatch.delenv("ACD_IMAP_SALES_PASSWORD", raising=False)
    assert imap.password() is None
    monkeypatch.setenv("ACD_IMAP_SALES_PASSWORD", "from-env")
    assert imap.password() == "from-env"
    assert "from-env" not in str(settings.to_dict())


# ------------------------------------------------------------------ asterisk/voicemail.conf
def asterisk_general(path: Path) -> dict[str, str]:
    """The [general] options of an Asterisk .conf file ("key = value", ";" comments)."""
    options: dict[str, str] = {}
    section = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "general" and "=" in line and "=>" not in line:
            key, _, value = line.partition("=")
            options[key.strip().lower()] = value.strip()
    return options


def test_voicemail_conf_keeps_maxsilence_below_minsecs() -> None:
    """Asterisk warns "maxsilence should be less than minsecs or you may get empty
    messages" when both are set and maxsilence >= minsecs: apps/app_voicemail.c,
    load_config() reads maxsilence in seconds (stored x1000 as ms when > 0) and minsecs
    in seconds, and compares maxsilence / 1000 >= minsecs (integer division)."""
    general = asterisk_general(Path(__file__).resolve().parents[1] / "asterisk" / "voicemail.conf")
    assert "minsecs" in general and "maxsilence" in general  # the rule applies: both set
    maxsilence = int(general["maxsilence"])
    maxsilence_ms = maxsilence * 1000 if maxsilence > 0 else maxsilence
    assert not int(maxsilence_ms / 1000) >= int(general["minsecs"]), general


# ------------------------------------------------------------------ one capacity across channels
def test_the_example_gives_one_capacity_budget_to_calls_and_chats() -> None:
    settings = load_settings(EXAMPLE)
    routing, conversations = settings.routing(), settings.conversations()
    assert routing.capacity == conversations.capacity
    capacity = routing.capacity
    assert capacity is not None
    assert (capacity.budget, capacity.call, capacity.chat, capacity.email, capacity.form) == (100, 100, 34, 10, 5)
    assert capacity.budget_of("chloe") == 136 and capacity.budget_of("anna") == 100
    assert routing.groups["sales"].skip_when_busy_in_other_channels
    assert not routing.groups["support"].skip_when_busy_in_other_channels
    assert not conversations.queues["telegram"].offer_during_calls
    assert settings.warnings() == []


def test_without_a_capacity_section_each_channel_counts_alone() -> None:
    data = tomllib.loads(AGENTS)
    data["channels"] = [{"id": "tg", "members": ["anna"], "offer_during_calls": True}]
    settings = settings_from_dict(data)
    assert settings.routing().capacity is None and settings.conversations().capacity is None
    assert settings.conversations().queues["tg"].offer_during_calls
    assert "capacity" not in settings.to_dict()  # nothing written back that was not there


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"capacity": {"budget": 0}}, "capacity.budget"),
        ({"capacity": {"chat": -1}}, "capacity.chat"),
        ({"capacity": {"call": 1001}}, "capacity.call"),
        ({"capacity": {"calls": 100}}, "capacity.calls: unknown setting"),
        ({"agents": [{"id": "anna", "endpoint": "PJSIP/101", "budget": 150}]},
         'agents[0] "anna".budget: an agent\'s budget needs a [capacity] section'),
        ({"capacity": {}, "agents": [{"id": "anna", "endpoint": "PJSIP/101", "budget": 0}]}, 'agents[0] "anna".budget'),
        ({"channels": [{"id": "f", "kind": "form", "members": ["anna"], "offer_during_calls": True}]},
         'channels[0] "f".offer_during_calls: only chats are offered'),
        ({"groups": [{"id": "g", "members": ["anna"], "skip_when_busy_in_other_channels": "sometimes"}]},
         'groups[0] "g".skip_when_busy_in_other_channels'),
    ],
)
def test_the_capacity_settings_are_checked(change: dict[str, Any], expected: str) -> None:
    data = {**tomllib.loads(AGENTS), **change}
    with pytest.raises(ConfigError) as info:
        settings_from_dict(data)
    assert expected in str(info.value)


def test_offering_chats_during_calls_that_take_the_whole_budget_is_warned_about() -> None:
    data = tomllib.loads(AGENTS)
    data["capacity"] = {}
    data["channels"] = [{"id": "tg", "members": ["anna"], "offer_during_calls": True}]
    assert [item for item, _ in settings_from_dict(data).warnings()] == ['channels[0] "tg".offer_during_calls']
    data["capacity"] = {"call": 50}
    assert settings_from_dict(data).warnings() == []


# ------------------------------------------------------------------ phone numbers as people type them
GROUPS = {"agents": [{"id": "anna", "endpoint": "PJSIP/101"}], "groups": [{"id": "sales", "members": ["anna"]}]}


@pytest.mark.parametrize("typed,stored", [
    ("+49 30 1234 5678", "+493012345678"),
    ("(030) 1234-5678", "03012345678"),
    ("+49 (0)30 1234.5678", "+493012345678"),  # the "(0)" is not dialled from abroad
    ("030/1234 5678", "03012345678"),
    ("+4930111111", "+4930111111"),
])
def test_phone_numbers_are_stored_without_their_separators(typed: str, stored: str) -> None:
    s = settings_from_dict({
        "agents": [{"id": "anna", "endpoint": "PJSIP/101", "mobile": typed}],
        "groups": [{"id": "sales", "members": ["anna"],
                    "missed": {"action": "forward_number", "number": typed}}],
        "numbers": {typed: "sales"},
    })
    assert s.agent("anna").mobile == stored  # type: ignore[union-attr]
    assert s.group("sales").missed.number == stored  # type: ignore[union-attr]
    assert s.numbers == {stored: "sales"}
    assert s.routing().group_for(stored).id == "sales"  # type: ignore[union-attr]


@pytest.mark.parametrize("typed", ["call 030 1234", "+49 30 12+34", "030-CALL-NOW", "++4930", "()", "+"])
def test_text_that_is_not_a_phone_number_is_still_refused(typed: str) -> None:
    with pytest.raises(ConfigError, match="not a phone number"):
        settings_from_dict({**GROUPS, "numbers": {typed: "sales"}})
    with pytest.raises(ConfigError, match="not a phone number"):
        settings_from_dict({"agents": [{"id": "anna", "endpoint": "PJSIP/101", "mobile": typed}]})


def test_one_number_written_twice_is_named() -> None:
    with pytest.raises(ConfigError, match=r'numbers: "\+49 30 111111" and "\+4930111111" are the same number'):
        settings_from_dict({**GROUPS, "numbers": {"+49 30 111111": "sales", "+4930111111": "sales"}})


# ------------------------------------------------------------------ lengths
@pytest.mark.parametrize("change,item", [
    ({"groups": [{"id": "sales", "name": "x" * 101, "members": ["anna"]}]}, 'groups[0] "sales".name'),
    ({"agents": [{"id": "anna", "name": "x" * 101, "endpoint": "PJSIP/101"}]}, 'agents[0] "anna".name'),
    ({"channels": [{"id": "chat", "name": "x" * 101, "members": ["anna"]}]}, 'channels[0] "chat".name'),
    ({"agents": [{"id": "anna", "endpoint": "PJSIP/" + "1" * 200}]}, 'agents[0] "anna".endpoint'),
    ({"groups": [{"id": "sales", "members": ["anna"], "missed": {"message": "a" * 201}}]},
     'groups[0] "sales".missed.message'),
    ({"groups": [{"id": "sales", "members": ["anna"], "missed": {"retry_seconds": 1e400}}]},
     'groups[0] "sales".missed.retry_seconds'),
])
def test_names_and_texts_have_maximum_lengths(change: dict[str, Any], item: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_dict({**GROUPS, **change})
    assert [i for i, _ in info.value.problems] == [item]


def test_a_name_of_the_maximum_length_is_fine() -> None:
    s = settings_from_dict({**GROUPS, "groups": [{"id": "sales", "name": "x" * 100, "members": ["anna"]}]})
    assert len(s.group("sales").name) == 100  # type: ignore[union-attr]
