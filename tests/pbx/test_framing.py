"""The fast frame parser reads every recorded frame as panoramisk does; the compiled
build's reader in C (acd/pbx/_headers.c) reads every frame as the Python one does."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.message import Message

from acd.pbx import framing
from acd.pbx.framing import event_name, parse, parse_event, read_lines
from acd.sim.recordings import read

from .transcripts import DIR


def recorded_frames() -> list[str]:
    """Every frame Asterisk sent, without its closing blank line, as the live link reads it."""
    return [frame.text.removesuffix("\r\n\r\n") for path in sorted(DIR.glob("*.txt"))
            for frame in read(path).received]


FRAMES = recorded_frames()


def test_there_are_recorded_frames_to_compare() -> None:
    assert len(FRAMES) > 1900  # README: 1,982 frames


@pytest.mark.parametrize("frame", [f for f in FRAMES if f.startswith("Event: ")][::7])
def test_a_live_event_has_the_same_headers_as_panoramisk_gives(frame: str) -> None:
    ours = parse_event(frame)
    theirs = {k: v for k, v in Message.from_line(frame.strip()).items() if k != "content"}
    last_key, _, last_value = frame.split("\r\n")[-1].partition(": ")
    if last_value == "" and last_key not in theirs:
        # panoramisk strips the frame first, so an empty value on the last line
        # ("OutboundProxy: ") loses its ": " and the header; we keep it
        assert ours.pop(last_key) == ""
    assert theirs == ours


def test_repeated_keys_become_lists_and_empty_values_stay() -> None:
    frame = "Event: Status\r\nAccountCode: \r\nVariable: A=1\r\nVariable: B=2\r\nChanVariable(PJSIP/x-1): ACD_DID="
    assert parse_event(frame) == {"Event": "Status", "AccountCode": "", "Variable": ["A=1", "B=2"],
                                  "ChanVariable(PJSIP/x-1)": "ACD_DID="}


def test_a_frame_read_again_from_the_lines_seen_lately_gives_the_same_headers() -> None:
    """read_lines (the interpreted build's) keeps the lines it saw lately (most repeat
    verbatim from event to event): the second reading of every recorded event, and of
    frames with repeated keys, is the same dict as the first, key order included."""
    odd = ["Event: Status\r\nAccountCode: \r\nVariable: A=1\r\nVariable: B=2",
           "Event: UserEvent\r\nCallerIDNum: 100\r\nUserEvent: X\r\nCallerIDNum: 200\r\nTrailing: "]
    events = [f for f in FRAMES if f.startswith("Event: ")] + odd
    framing._LINES.clear()
    first = [read_lines(f) for f in events]
    assert framing._LINES  # the lines were kept
    second = [read_lines(f) for f in events]
    assert second == first and [list(d or ()) for d in second] == [list(d or ()) for d in first]
    assert second[-2]["Variable"] == ["A=1", "B=2"] and second[-1]["CallerIDNum"] == ["100", "200"]  # type: ignore[index]


def test_a_line_without_a_colon_is_read_the_slow_way() -> None:
    frame = "Event: Hangup\r\nno colon here\r\nTrailing:\r\nChannel: PJSIP/1-1"
    assert read_lines(frame) is None
    assert parse_event(frame) == {"Event": "Hangup", "Trailing": "", "Channel": "PJSIP/1-1"}


def test_the_lines_kept_are_bounded_and_a_long_line_is_never_kept() -> None:
    framing._LINES.clear()
    for n in range(framing.LINES_KEPT + 10):
        assert read_lines(f"Event: Newchannel\r\nUniqueid: {n}")["Uniqueid"] == str(n)  # type: ignore[index]
    assert len(framing._LINES) <= framing.LINES_KEPT
    digits = "9" * 4300  # a value may be 4,300 digits long (tests/pbx/test_fuzzed_input.py)
    assert read_lines(f"Event: UserEvent\r\nAttempt: {digits}")["Attempt"] == digits  # type: ignore[index]
    assert f"Attempt: {digits}" not in framing._LINES


def _plainly(frame: str) -> dict[str, object] | None:
    """What every reader must give, written as plainly as it can be: no lines kept."""
    out: dict[str, object] = {}
    for line in frame.split("\r\n"):
        key, sep, value = line.partition(": ")
        if not sep:
            return None
        if key not in out:
            out[key] = value
        elif isinstance(out[key], list):
            out[key].append(value)  # type: ignore[attr-defined]
        else:
            out[key] = [out[key], value]
    return out


# the interpreted build's reader, and the compiled build's in C when this is that build
# (tests/test_hot_path.py holds each build to its reader)
READERS = {"python": read_lines} | ({"c": framing._lines_of} if framing._lines_of is not read_lines else {})

# the pieces of a frame, the awkward ones most of all: the separators alone and cut in
# two, colons without a space, characters of one, two and four bytes (Latin-1 é, Cyrillic,
# an emoji: each makes Python store the frame its own way), a line of 200 bytes and more
_PIECES = ["Event", "Channel", "Uniqueid", "ChanVariable", ": ", ":", " ", "\r\n", "\r", "\n", "=",
           "PJSIP/101-00000001", "1795573834.1", "é", "Ренат", "😀", "x" * 199, "y" * 250, ""]


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_every_recorded_frame_reads_as_the_plain_reading_gives_it_twice_over(reader) -> None:
    events = [f for f in FRAMES if f.startswith("Event: ")]
    for _ in range(2):  # the second time through the lines seen lately
        for frame in events:
            ours = reader(frame)
            assert ours == _plainly(frame) and list(ours or ()) == list(_plainly(frame) or ())


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@settings(max_examples=3000, deadline=None)
@given(lines=st.lists(st.lists(st.sampled_from(_PIECES), max_size=6).map("".join), max_size=8))
def test_any_frame_reads_as_the_plain_reading_gives_it(reader, lines: list[str]) -> None:
    frame = "\r\n".join(lines)
    for _ in range(2):  # read anew, then from the lines seen lately
        ours = reader(frame)
        assert ours == _plainly(frame) and list(ours or ()) == list(_plainly(frame) or ())
        assert all(type(v) in (str, list) for v in (ours or {}).values())


def test_events_nobody_handles_are_dropped_unparsed_and_answers_stay_panoramisk_messages() -> None:
    assert parse("Event: VarSet\r\nChannel: PJSIP/1-1", wanted={"Hangup"}) is None
    assert parse("Event: Hangup\r\nChannel: PJSIP/1-1", wanted={"Hangup"}) == {"Event": "Hangup",
                                                                               "Channel": "PJSIP/1-1"}
    item = parse("Event: DeviceStateChange\r\nActionID: a-1\r\nDevice: PJSIP/101", wanted={"Hangup"})
    assert isinstance(item, Message) and item.action_id == "a-1"  # a list item answers an action
    response = parse("Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: l-1")
    assert isinstance(response, Message) and response["Response"] == "Success"
    assert event_name("Response: Success") == ""


ANSWERS = [f for f in FRAMES if f.lstrip().startswith("Response: ")] + [
    "Response: Success\r\nActionID: a-1\r\nMessage: Variable Set",
    "Response: Error\r\nActionID: a-2\r\nMessage: Channel does not exist: PJSIP/trunk-00000001",
    "Response: Success\r\nActionID: a-3\r\nactionid: A-3\r\nMessage: two spellings",
    "Response: Success\r\nActionID: a-4\r\nResult: 200%20result%3D0",  # a quoted key
    "Response: Success\r\nActionID: a-5\r\nOutput: 1\r\nOutput: 2",  # a repeated key
    "Response: Follows\r\nActionID: a-6\r\nPrivilege: Command\r\nthe body\r\n--END COMMAND--",
    "Response: Success\r\nActionID: a-7\r\nno colon here",
    "Response: Success  \r\nActionID: a-8\r\nMessage: trailing  ",
]


@pytest.mark.parametrize("frame", ANSWERS)
def test_an_answer_reads_as_panoramisk_reads_it(frame: str) -> None:
    from acd.pbx.framing import parse_answer

    ours, theirs = parse_answer(frame.strip()), Message.from_line(frame.strip())
    assert type(ours) is type(theirs) and list(ours.items()) == list(theirs.items())
    assert (ours.id, ours.action_id, ours.content) == (theirs.id, theirs.action_id, theirs.content)


# a stream with the odd frames a link must survive: a non-UTF-8 byte and a character of
# three bytes (both may be cut by a read), a repeated key, a line without ": ", an event
# nobody handles, a list item that answers an action (ActionID), an event of one line
ODD_STREAM = (
    b"Asterisk Call Manager/11.0.0\r\nResponse: Success\r\nActionID: login\r\nMessage: Authentication accepted\r\n\r\n"
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/trunk-00000001\r\n"
    b"CallerIDName: Ren\xc3\xa9e \xe2\x82\xac\r\nUniqueid: 1.1\r\n\r\n"
    b"Event: VarSet\r\nPrivilege: dialplan,all\r\nVariable: X\r\nValue: 1\r\n\r\n"
    b"Event: UserEvent\r\nCallerIDNum: 100\r\nUserEvent: ACDCallWaiting\r\nCallerIDNum: 200\r\nno colon\r\n"
    b"Trailing:\r\n\r\n"
    b"Event: DeviceStateChange\r\nActionID: l-1\r\nDevice: PJSIP/101\r\nState: NOT_INUSE\r\n\r\n"
    b"Event: Hangup\r\n\r\n"
    b"Event: Newstate\r\nUniqueid: 1.1\r\nChannelStateDesc: Ring\xff\xfeing\r\n\r\n"
)
WANTED = frozenset({"Newchannel", "UserEvent", "DeviceStateChange", "Hangup", "Newstate", "Shutdown"})


def _delivered(pieces: list[bytes]) -> tuple[list[dict[str, object]], list[str]]:
    """What the link's protocol makes of the stream read in these pieces: the live events
    (parsed as the consumer parses them) and the answers it matched or dispatched."""
    from acd.pbx.connection import _AmiProtocol, _message_of

    class Transport:
        def close(self) -> None:
            pass

    protocol = _AmiProtocol()
    answers: list[str] = []
    protocol.handle_message = lambda message: answers.append(message.get("ActionID"))  # type: ignore[method-assign]
    protocol.connection_made(Transport())  # type: ignore[arg-type]
    protocol.wanted = WANTED
    for piece in pieces:
        protocol.data_received(piece)
    events = [_message_of(item, False) for item in protocol.events if item is not None]
    return events, answers  # type: ignore[return-value]


async def test_odd_frames_are_read_the_same_however_the_reads_cut_the_stream() -> None:
    whole = _delivered([ODD_STREAM])
    events, answers = whole
    assert [e["Event"] for e in events] == ["Newchannel", "UserEvent", "Hangup", "Newstate"]  # VarSet dropped
    assert events[0]["CallerIDName"] == "Renée €"
    assert events[1]["CallerIDNum"] == ["100", "200"] and events[1]["Trailing"] == "" and "no colon" not in events[1]
    assert events[3]["ChannelStateDesc"] == "Ring\ufffd\ufffding"  # bytes that are no UTF-8: replaced, never fatal
    assert answers == ["login", "l-1"]  # the banner heads the first answer; a list item answers its action
    for size in (1, 2, 3, 7, 64):
        assert _delivered([ODD_STREAM[i:i + size] for i in range(0, len(ODD_STREAM), size)]) == whole, size


async def test_an_event_answering_somebody_else_s_action_that_nobody_handles_is_dropped_unparsed() -> None:
    """A list's closing event (or an OriginateResponse) carries the ActionID of the action
    it answers. One of ours completes our action; one nobody here asked for and nobody
    handles is dropped like any unhandled event, not parsed into a message for nobody
    (recorded: 01-login-and-state's CoreShowChannelsComplete, bench.ami_ingest)."""
    from acd.pbx.connection import _Action, _AmiProtocol

    class Transport:
        def close(self) -> None:
            pass

    protocol = _AmiProtocol()
    protocol.connection_made(Transport())  # type: ignore[arg-type]
    protocol.wanted = WANTED
    parsed: list[str] = []
    protocol.handle_message = lambda m, handle=protocol.handle_message: (parsed.append(m["ActionID"]), handle(m))
    protocol.data_received(b"Event: CoreShowChannelsComplete\r\nActionID: someone-else-6\r\nListItems: 0\r\n\r\n")
    assert parsed == [] and not protocol.events  # no action of ours waits: nothing it could answer
    ours = _Action({"Action": "CoreShowChannels"}, asyncio.get_running_loop().create_future())
    protocol.responses[ours.id] = ours
    protocol.data_received(
        b"Event: CoreShowChannelsComplete\r\nActionID: someone-else-7\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
        b"Event: OriginateResponse\r\nActionID: someone-else-8\r\nResponse: Failure\r\n\r\n"
        b"Response: Success\r\nActionID: " + ours.id.encode() + b"\r\nEventList: start\r\nMessage: follows\r\n\r\n"
        b"Event: CoreShowChannelsComplete\r\nActionID: " + ours.id.encode() + b"\r\nEventList: Complete\r\n"
        b"ListItems: 0\r\n\r\n")
    assert parsed == [ours.id, ours.id]  # the foreign two never became messages
    assert ours.future.done() and not protocol.events  # ours completed; nothing for the consumer
