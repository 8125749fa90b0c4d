"""The picture of channels: what each event's channel snapshot leaves behind."""

from __future__ import annotations

from acd.core.events import DeviceState
from acd.pbx.channels import Picture


def snapshot(variables: object, **more: str) -> dict[str, object]:
    return {"Event": "Newstate", "Channel": "PJSIP/trunk-00000001", "Uniqueid": "1795573831.0",
            "Linkedid": "1795573831.0", "ChannelStateDesc": "Ring", "ChanVariable": variables, **more}


def test_channel_variables_follow_the_latest_lines_also_when_earlier_lines_come_back() -> None:
    picture = Picture()
    seen = []
    for lines in ("ACD_DID=5000", ["ACD_DID=5000", "ACD_CALLBACK=r-1"], "ACD_DID=5001", "ACD_DID=5000",
                  "ACD_DID=5000"):
        ch = picture.observe(snapshot(lines))
        assert ch is not None
        seen.append(dict(ch.variables or {}))
    assert seen == [{"ACD_DID": "5000"}, {"ACD_DID": "5000", "ACD_CALLBACK": "r-1"},
                    {"ACD_DID": "5001", "ACD_CALLBACK": "r-1"}, {"ACD_DID": "5000", "ACD_CALLBACK": "r-1"},
                    {"ACD_DID": "5000", "ACD_CALLBACK": "r-1"}]


def test_a_dest_snapshot_refreshes_the_same_channel_with_its_own_prefix() -> None:
    picture = Picture()
    picture.observe(snapshot("ACD_DID=5000", Context="from-carrier"))
    dest = {"DestChannel": "PJSIP/trunk-00000001", "DestUniqueid": "1795573831.0", "DestContext": "acd-hold",
            "DestChannelStateDesc": "Up", "DestChanVariable": "ACD_DID=5002", "DestCallerIDNum": "<unknown>"}
    ch = picture.observe(dest, "Dest")
    assert ch is not None
    assert (ch.context, ch.state, ch.variable("ACD_DID"), ch.caller_number) == ("acd-hold", "Up", "5002", "")


def test_repeated_or_odd_snapshot_headers_are_read_as_their_first_value() -> None:
    picture = Picture()
    ch = picture.observe({"Channel": ["PJSIP/101-00000002", "PJSIP/x"], "Uniqueid": [" 1795573831.2 "],
                          "Context": ["acd-dial", "other"], "Linkedid": ["1795573831.0"]})
    assert ch is not None
    assert (ch.uid, ch.name, ch.context, ch.linkedid) == ("1795573831.2", "PJSIP/101-00000002", "acd-dial",
                                                          "1795573831.0")
    assert picture.observe({"Channel": "PJSIP/101-00000002", "Uniqueid": "<unknown>"}) is None


def test_device_states_as_asterisk_writes_them_and_otherwise() -> None:
    assert [DeviceState.parse(s.value) for s in DeviceState] == list(DeviceState)
    assert DeviceState.parse(" not_inuse ") is DeviceState.NOT_INUSE
    assert DeviceState.parse("ringinuse") is DeviceState.RINGINUSE
    assert DeviceState.parse("Sleeping") is DeviceState.UNKNOWN
