"""The call history exported as an Asterisk queue_log: calls played through the real
router, their records written to the store, the file read back. Every call appears,
its events in the order they happened, each line in the documented format
(docs.asterisk.org "Queue Logs": epoch|callid|queuename|agent|event|data...)."""

from __future__ import annotations

import re

from acd.core.commands import Record
from acd.core.events import (
    AttemptEnded,
    CallArrived,
    CallerHungUp,
    FailReason,
    MemberAnswered,
    MemberFailed,
    MemberRinging,
    TransferredByHand,
)
from acd.core.model import MissedAction, MissedCallPolicy, Mode
from acd.store import Store
from acd.store.queue_log import call_lines, history_calls, queue_log
from tests.core.harness import Harness, config, group

T0 = 1_700_000_000.0
MEMBERS = {"anna": "PJSIP/101", "boris": "PJSIP/102", "clara": "PJSIP/103"}
EXTENSIONS = {"anna": "101", "boris": "102", "clara": "103"}

# the data fields of each event, as documented (ENTERQUEUE's optional 4th field unused)
FIELDS = {"ENTERQUEUE": 3, "RINGNOANSWER": 1, "CONNECT": 3, "COMPLETECALLER": 3, "COMPLETEAGENT": 3,
          "TRANSFER": 5, "ABANDON": 3, "EXITWITHTIMEOUT": 3, "EXITEMPTY": 3}
NUMERIC = {"ENTERQUEUE": [2], "RINGNOANSWER": [0], "CONNECT": [0, 2], "TRANSFER": [2, 3, 4]}  # the others: all three
NUMBER = re.compile(r"^\d+$")


def check_format(text: str) -> list[list[str]]:
    """Every line: an integer epoch, the call id, the queue, the agent, a documented event
    and exactly its data fields, the numeric ones numeric."""
    rows = []
    for line in text.splitlines():
        fields = line.split("|")
        epoch, call_id, queue, agent, event, *data = fields
        assert NUMBER.match(epoch) and call_id and queue and agent, line
        assert event in FIELDS and len(data) == FIELDS[event], line
        numeric = NUMERIC.get(event, [0, 1, 2])
        assert all(NUMBER.match(data[i]) for i in numeric), line
        assert (agent == "NONE") == (event in ("ENTERQUEUE", "ABANDON", "EXITWITHTIMEOUT", "EXITEMPTY")), line
        rows.append(fields)
    return rows


def stored(h: Harness, tmp_path: object) -> Store:
    store = Store(f"sqlite:///{tmp_path}/history.db")
    store.create_all()
    store.apply_records([c for c in h.log if isinstance(c, Record)])
    return store


def ring(h: Harness, call_id: str, agent: str) -> None:
    h.send(MemberRinging(call_id, h.router.calls[call_id].attempt, agent))


def play(h: Harness) -> None:
    """Six calls, one of each ending."""
    # c1: anna rings out (after 3 rings), boris answers 4 s later; the caller hangs up
    h.send(CallArrived("c1", "5000", "15550001"))
    h.send(MemberRinging("c1", 1, "anna"))
    h.advance(15)
    h.send(MemberRinging("c1", 2, "boris"))
    h.now += 4
    h.send(MemberAnswered("c1", 2, "boris"))
    h.now += 60
    h.send(CallerHungUp("c1", by_caller=True))
    # c2: anna answers at once, hangs up herself
    h.now += 100
    h.send(CallArrived("c2", "5000", "15550002"))
    h.send(MemberRinging("c2", 1, "anna"))
    h.now += 2
    h.send(MemberAnswered("c2", 1, "anna"))
    h.now += 30
    h.send(CallerHungUp("c2", by_caller=False))
    # c3: the caller gives up while anna's phone rings
    h.now += 100
    h.send(CallArrived("c3", "5000", "15550003"))
    h.send(MemberRinging("c3", 1, "anna"))
    h.now += 7
    h.send(CallerHungUp("c3"))
    # c4: anna is busy, boris and clara ring out: voicemail
    h.now += 100
    h.send(CallArrived("c4", "5000", "15550004"))
    h.send(MemberFailed("c4", 1, "anna", FailReason.BUSY))
    h.send(AttemptEnded("c4", 1, "BUSY"))
    ring(h, "c4", "boris")
    h.advance(15)
    ring(h, "c4", "clara")
    h.advance(16)
    h.now += 10
    h.send(CallerHungUp("c4"))
    # c5: answered by anna, transferred to clara
    h.now += 100
    h.send(CallArrived("c5", "5000", "15550005"))
    h.send(MemberRinging("c5", 1, "anna"))
    h.send(MemberAnswered("c5", 1, "anna"))
    h.now += 20
    h.send(TransferredByHand("c5", "clara", "blind"))
    h.now += 20
    h.send(CallerHungUp("c5"))


def test_every_call_appears_with_its_events_in_order_and_every_line_as_documented(tmp_path: object) -> None:
    h = Harness(config(group(Mode.STRICT), agent_ids=("anna", "boris", "clara")), now=T0)
    play(h)
    store = stored(h, tmp_path)
    text = "".join(line + "\n" for line in queue_log(history_calls(store), MEMBERS, EXTENSIONS))
    rows = check_format(text)
    by_call: dict[str, list[tuple[str, str, list[str]]]] = {}
    for _, call_id, queue, agent, event, *data in rows:
        assert queue == "sales"
        by_call.setdefault(call_id, []).append((agent, event, data))
    assert sorted(by_call) == ["c1", "c2", "c3", "c4", "c5"]  # every call of the history
    events = {c: [(agent, event) for agent, event, _ in lines] for c, lines in by_call.items()}
    assert events["c1"] == [("NONE", "ENTERQUEUE"), ("PJSIP/101", "RINGNOANSWER"), ("PJSIP/102", "CONNECT"),
                            ("PJSIP/102", "COMPLETECALLER")]
    assert events["c2"] == [("NONE", "ENTERQUEUE"), ("PJSIP/101", "CONNECT"), ("PJSIP/101", "COMPLETEAGENT")]
    assert events["c3"] == [("NONE", "ENTERQUEUE"), ("NONE", "ABANDON")]
    assert events["c4"] == [("NONE", "ENTERQUEUE"), ("PJSIP/101", "RINGNOANSWER"), ("PJSIP/102", "RINGNOANSWER"),
                            ("PJSIP/103", "RINGNOANSWER"), ("NONE", "EXITWITHTIMEOUT")]
    assert events["c5"] == [("NONE", "ENTERQUEUE"), ("PJSIP/101", "CONNECT"), ("PJSIP/101", "TRANSFER")]
    # the figures of the data fields
    data = {c: {event: d for _, event, d in lines} for c, lines in by_call.items()}
    assert data["c1"]["ENTERQUEUE"] == ["", "15550001", "1"]
    assert data["c1"]["RINGNOANSWER"] == ["15000"]  # 3 rings of 5 s, in milliseconds
    assert data["c1"]["CONNECT"] == ["19", "", "4"]  # held 19 s, boris rang 4 s
    assert data["c1"]["COMPLETECALLER"] == ["19", "60", "1"]
    assert data["c3"]["ABANDON"] == ["1", "1", "7"]
    assert [d for _, event, d in by_call["c4"] if event == "RINGNOANSWER"] == [["0"], ["15000"], ["15000"]]
    assert data["c4"]["EXITWITHTIMEOUT"] == ["1", "1", "30"]  # two members of 15 s each
    assert data["c5"]["TRANSFER"] == ["103", "acd-agents", "0", "20", "1"]
    # the whole file in time order
    assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
    store.close()


def test_a_forward_to_another_group_exits_the_first_queue_and_enters_the_next(
        tmp_path: object) -> None:
    first = group(Mode.ALL, id="sales", members=("anna",),
                  missed=MissedCallPolicy(MissedAction.FORWARD_GROUP, group="support"))
    second = group(Mode.ALL, id="support", members=("boris",), missed=MissedCallPolicy(MissedAction.HANGUP))
    h = Harness(config(first, second, agent_ids=("anna", "boris")), now=T0)
    h.send(CallArrived("x1", "5000", "15550001"))
    h.send(MemberRinging("x1", 1, "anna"))
    h.advance(16)
    h.send(MemberRinging("x1", 2, "boris"))
    h.send(MemberAnswered("x1", 2, "boris"))
    h.now += 5
    h.send(CallerHungUp("x1"))
    store = stored(h, tmp_path)
    lines = {c.call_id: [text.split("|")[2:5] for _, text in call_lines(c, MEMBERS)] for c in history_calls(store)}
    assert lines["x1"] == [["sales", "NONE", "ENTERQUEUE"], ["sales", "PJSIP/101", "RINGNOANSWER"],
                           ["sales", "NONE", "EXITWITHTIMEOUT"], ["support", "NONE", "ENTERQUEUE"],
                           ["support", "PJSIP/102", "CONNECT"], ["support", "PJSIP/102", "COMPLETECALLER"]]
    store.close()


def test_nobody_available_is_exitempty(tmp_path: object) -> None:
    from acd.core.events import DeviceState, DeviceStateChanged
    h = Harness(config(group(Mode.STRICT, members=("anna",)), agent_ids=("anna",)), now=T0)
    h.send(DeviceStateChanged("anna", DeviceState.UNAVAILABLE))
    h.send(CallArrived("e1", "5000", "15550001"))
    h.now += 3
    h.send(CallerHungUp("e1"))
    store = stored(h, tmp_path)
    [call] = list(history_calls(store))
    assert [text.split("|")[4] for _, text in call_lines(call)] == ["ENTERQUEUE", "EXITEMPTY"]
    store.close()


def test_a_caller_name_with_the_separator_cannot_break_a_line(tmp_path: object) -> None:
    h = Harness(config(group(Mode.STRICT)), now=T0)
    h.send(CallArrived("p1", "5000", "555|1\n2"))
    h.send(CallerHungUp("p1"))
    store = stored(h, tmp_path)
    text = "\n".join(queue_log(history_calls(store)))
    assert len(text.splitlines()) == 2 and check_format(text)
    store.close()


def test_the_range_and_the_paging_keep_every_call_once(tmp_path: object) -> None:
    h = Harness(config(group(Mode.STRICT)), now=T0)
    for n in range(7):
        h.now = T0 + n * 10
        h.send(CallArrived(f"r{n}", "5000", "1555000"))
        h.send(CallerHungUp(f"r{n}"))
    store = stored(h, tmp_path)
    assert [c.call_id for c in history_calls(store, page=3)] == [f"r{n}" for n in range(7)]
    assert [c.call_id for c in history_calls(store, T0 + 10, T0 + 40, page=2)] == ["r1", "r2", "r3"]
    store.close()
