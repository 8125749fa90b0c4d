"""The call page's decision log in sentences: names, durations in words, times in the
reader's zone, no raw keys."""

from datetime import datetime
from zoneinfo import ZoneInfo

from acd.store.views import CallDetail, CallEvent
from acd.web.decision_log import CallStory
from acd.web.words import caller, duration, name_list

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 30, 10, 50, tzinfo=BERLIN).timestamp()
NAMES = {"anna": "Anna", "farid": "Farid"}


def call(*events: tuple[float, str, dict]) -> CallDetail:
    return CallDetail("c1", "+4930111", "+4917000", "Maria Lopez", "sales", T0, None, None, None, None, None, None,
                      events=tuple(CallEvent(i, T0 + at, kind, detail) for i, (at, kind, detail) in enumerate(events)))


def story() -> CallStory:
    return CallStory(NAMES, {"sales": "Sales"}, BERLIN)


def test_a_skip_says_why_and_since_when_in_the_readers_zone() -> None:
    on_call_since = datetime(2026, 11, 30, 10, 42, tzinfo=BERLIN).timestamp()
    lines = story().lines(call((0.1, "considered", {"agent": "anna", "decision": "skip", "reason": "on a call",
                                                    "since": on_call_since})))
    assert [line.text for line in lines] == ["Anna was skipped: on a call since 10:42"]
    assert lines[0].skipped


def test_a_ring_out_says_how_many_rings_and_how_long() -> None:
    lines = story().lines(call(
        (0, "arrived", {"did": "+4930111", "caller_number": "+4917000", "caller_name": "Maria Lopez",
                        "group": "sales"}),
        (0.1, "considered", {"agent": "farid", "decision": "ring", "attempt": 1}),
        (2.0, "ringing", {"agent": "farid", "attempt": 1}),
        (17.0, "no_answer", {"agent": "farid", "rings": 3, "reason": "no answer after 3 rings"}),
        (83.0, "abandoned", {"waited_s": 83.0, "tried": ["farid", "farid"]}),
    ))
    assert [line.text for line in lines] == [
        "Call from Maria Lopez (+4917000) on +4930111, for queue group Sales",
        "Rang Farid",
        "Farid's phone is ringing",
        "Rang Farid for 3 rings (15 s), no answer",
        "The caller hung up after waiting 1 min 23 s; offered to Farid",
    ]


def test_a_kind_added_later_reads_as_values_without_keys() -> None:
    [line] = story().lines(call((5, "queue_announced", {"agent": "anna", "position_s": 65, "tried": ["anna"]})))
    assert line.text == "Queue announced: Anna, 1 min 05 s, Anna"
    assert "_s" not in line.text and "[" not in line.text


def test_words_durations_names_and_the_caller() -> None:
    assert [duration(s) for s in (4.6, 65, 3725)] == ["5 s", "1 min 05 s", "1 h 02 min"]
    assert name_list(["farid", "anna", "farid", "zoe"], NAMES) == "Farid, Anna, zoe"
    assert caller("Maria", "+4917") == "Maria (+4917)" and caller("", "+4917") == "+4917"


def test_a_typed_callback_number_reads_as_sentences() -> None:
    lines = story().lines(call(
        (10, "callback_number_asked", {"try": 1}),
        (30, "callback_number_refused", {"reason": "the number is shorter than 5 digits", "try": 1}),
        (30, "callback_number_asked", {"try": 2}),
        (60, "callback_refused", {"reason": "no usable number after 2 tries, the caller waits on in the line"}),
    ))
    assert [line.text for line in lines] == [
        "The caller was asked to type the number to be called back on",
        "The number typed for the callback was not taken: the number is shorter than 5 digits",
        "The caller was asked again to type the number to be called back on",
        "No callback: no usable number after 2 tries, the caller waits on in the line",
    ]
