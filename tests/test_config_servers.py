"""Several Asterisk servers in the configuration ([[asterisk]]), and [ami] as one."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, Settings, load_settings

TWO_SERVERS = """
[[asterisk]]
name = "berlin"
host = "10.0.0.1"
secret_env = "ACD_AMI_SECRET_BERLIN"
trunks = { munich = "to-munich" }

[[asterisk]]
name = "munich"
host = "10.0.0.2"
secret_env = "ACD_AMI_SECRET_MUNICH"
trunks = { berlin = "to-berlin" }

[[agents]]
id = "anna"
endpoint = "PJSIP/101"

[[agents]]
id = "max"
endpoint = "PJSIP/201"
server = "munich"

[[groups]]
id = "sales"
members = ["anna", "max"]

[numbers]
"5000" = "sales"
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "acd.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_an_ami_section_is_one_server_named_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "s3cr3t")
    settings = load(tmp_path, '[ami]\nhost = "10.0.0.9"\n[[agents]]\nid = "anna"\nendpoint = "PJSIP/101"\n')
    [main] = settings.servers()
    assert (main.name, main.link.host, main.trunks) == ("main", "10.0.0.9", {})
    assert main.secret is not None and main.secret.get_secret_value() == "s3cr3t"
    assert settings.routing().agents["anna"].server == "main"


def test_several_servers_each_with_its_secret_from_its_own_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET_BERLIN", "b-secret")
    monkeypatch.delenv("ACD_AMI_SECRET_MUNICH", raising=False)
    settings = load(tmp_path, TWO_SERVERS)
    berlin, munich = settings.servers()
    assert (berlin.name, berlin.link.host, berlin.trunks) == ("berlin", "10.0.0.1", {"munich": "to-munich"})
    assert berlin.secret is not None and berlin.secret.get_secret_value() == "b-secret"
    assert munich.secret is None
    agents = settings.routing().agents
    assert (agents["anna"].server, agents["max"].server) == ("berlin", "munich")  # the first server by default
    assert "b-secret" not in str(settings.to_dict())


def test_a_secret_in_a_servers_table_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[asterisk]]\nname = "a"\nsecret = "x"\n')
    assert "asterisk[0]" in message and "secret_env" in message


def test_two_servers_with_one_name_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[[asterisk]]\nname = "a"\n[[asterisk]]\nname = "a"\n')
    assert 'asterisk[1].name: server name "a" is already used by asterisk[0]' in message


def test_ami_and_asterisk_together_are_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[ami]\nhost = "x"\n[[asterisk]]\nname = "a"\n')
    assert "[ami] describes the only Asterisk server" in message


def test_an_agent_on_an_unknown_server_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_SERVERS.replace('server = "munich"', 'server = "hamburg"'))
    assert 'agents[1] "max".server: unknown server "hamburg" (known: berlin, munich)' in message


def test_a_trunk_to_an_unknown_server_is_refused(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_SERVERS.replace('trunks = { berlin = "to-berlin" }',
                                                     'trunks = { berlin = "to-berlin", hamburg = "to-hh" }'))
    assert 'unknown server "hamburg"' in message


def test_a_group_spanning_servers_needs_a_trunk_each_way(tmp_path: Path) -> None:
    message = error_of(tmp_path, TWO_SERVERS.replace('trunks = { berlin = "to-berlin" }\n', ""))
    assert 'groups[0] "sales".members' in message and 'server "munich" needs a trunk to "berlin"' in message


def test_a_change_saved_from_the_pages_keeps_the_servers_and_writes_no_ami_section(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACD_AMI_SECRET", "from-env")  # [ami]'s variable: no [ami] appears for it
    settings = load(tmp_path, TWO_SERVERS)
    changed = settings.with_changes({"groups": [{"id": "sales", "members": ["max"]}]})
    assert [s.name for s in changed.servers()] == ["berlin", "munich"]
    assert "ami" not in changed.to_dict() and len(changed.to_dict()["asterisk"]) == 2
    assert "asterisk" not in load(tmp_path, '[ami]\nhost = "x"\n').to_dict()  # one server: as before
