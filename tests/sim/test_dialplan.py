"""extensions.conf parsing, patterns and expressions; unknown features fail loudly."""

from __future__ import annotations

import pytest

from acd.clock import Clock
from acd.sim import Simulator
from acd.sim.dialplan import Dialplan, DialplanError, evaluate, match_pattern, substitute

from .amiclient import AmiClient
from .conftest import DIALPLAN


@pytest.mark.parametrize(("pattern", "exten", "matches"), [
    ("_X.", "5000", True), ("_X.", "5", False), ("_X!", "5", True), ("_NXX", "201", True),
    ("_NXX", "101", False), ("_[1-5]", "3", True), ("_[1-5]", "6", False),
    ("_age[n]t1XX", "agent101", True), ("_age[n]t1XX", "agenT101", False), ("_agent1XX", "agent101", False),
    ("_x", "7", True), ("_*11X.", "*11102", True), ("_*11X.", "*11", False), ("5000", "5000", True),
])
def test_patterns_follow_asterisk(pattern: str, exten: str, matches: bool) -> None:
    assert match_pattern(pattern, exten) is matches


def test_the_most_specific_extension_wins() -> None:
    plan = Dialplan.load(DIALPLAN)
    assert plan.find("acd-agents", "*11") is not None
    assert plan.find("acd-agents", "*11").pattern == "*11"  # type: ignore[union-attr]
    assert plan.find("acd-agents", "*11102").pattern == "_*11X."  # type: ignore[union-attr]
    assert plan.find("acd-inbound", "+4930").pattern == "_+X."  # type: ignore[union-attr]
    assert plan.globals["ACD_DIAL_CEILING"] == "120"


@pytest.mark.parametrize(("expr", "value"), [
    ('"" = ""', "1"), ('"ANSWER" = "ANSWER" | "5000" = ""', "1"), ('"BUSY" = "ANSWER" | "5000" = ""', "0"),
    ('"a" != "b"', "1"), ("2 + 3 * 4", "14"), ("(1 & 0) | 7", "7"), ("!0", "1"), ("10 > 9", "1"),
])
def test_expressions(expr: str, value: str) -> None:
    assert evaluate(expr) == value


def test_substitution_with_offsets_and_if() -> None:
    variables = {"EXTEN": "vm-agent101", "ACD_TIMEOUT": "", "CEILING": "120"}

    def func(name: str, args: str) -> str:
        assert name == "IF"
        cond, _, rest = args.partition("?")
        a, _, b = rest.partition(":")
        return a if cond not in ("", "0") else b

    assert substitute("${EXTEN:3}/${EXTEN:8}/${EXTEN:-3}/${EXTEN:0:2}", lambda n: variables.get(n, ""), func) \
        == "agent101/101/101/vm"
    assert substitute('${IF($["${ACD_TIMEOUT}" = ""]?${CEILING}:${ACD_TIMEOUT})}',
                      lambda n: variables.get(n, ""), func) == "120"


def test_malformed_dialplan_is_refused() -> None:
    with pytest.raises(DialplanError):
        Dialplan.parse("[ctx]\nexten => s,1,NoOp(\nthis is not a line\n")


async def test_unknown_application_is_a_loud_error_and_hangs_up(tmp_path: object) -> None:
    from pathlib import Path

    plan = Path(str(tmp_path)) / "extensions.conf"
    plan.write_text("[in]\nexten => _X.,1,Answer()\n same => n,Queue(sales)\n same => n,NoOp(never)\n")
    sim = Simulator(dialplan=plan, clock=Clock(20), trunk_context="in")
    await sim.start()
    client = await AmiClient.connect(sim.port or 0)
    await client.login("acd", "acd")
    call = await sim.call("5000")
    await call.ended.wait()
    assert any("Queue" in e for e in sim.errors)
    await client.event("Hangup", Channel=call.channel_name)
    assert not [f for f in client.frames if f.get("AppData") == "never"]
    await client.close()
    await sim.stop()


async def test_unknown_function_is_a_loud_error(tmp_path: object) -> None:
    from pathlib import Path

    plan = Path(str(tmp_path)) / "extensions.conf"
    plan.write_text("[in]\nexten => _X.,1,NoOp(${CUT(foo,-,1)})\n")
    sim = Simulator(dialplan=plan, clock=Clock(20), trunk_context="in")
    await sim.start()
    call = await sim.call("5000")
    await call.ended.wait()
    assert any("CUT" in e for e in sim.errors)
    await sim.stop()


async def test_inherited_variables_reach_the_dialled_leg(sim: Simulator, ami_all: AmiClient) -> None:
    call = await sim.call("5000", "15550001")
    await ami_all.event("UserEvent", UserEvent="ACDCallWaiting")
    await ami_all.action("Setvar", Channel=call.channel_name, Variable="ACD_DIALSTRING", Value="PJSIP/101")
    await ami_all.action("Redirect", Channel=call.channel_name, Context="acd-dial", Exten="1", Priority="1")
    begin = await ami_all.event("DialBegin")
    assert begin.get("DestChanVariable") == "ACD_DID=5000"
    assert ami_all.events("VarSet", Variable="__ACD_DID", Channel=begin.get("DestChannel") or "")
