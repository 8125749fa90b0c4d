"""A timeline line's detail from the core is made JSON-able before it is written
(``acd.channels.desk._plain``): sets become sorted lists, tuples lists, keys text;
scalars stay as they are."""

import json

from acd.channels.desk import _plain


def test_a_details_sets_tuples_and_keys_become_json_and_its_scalars_stay() -> None:
    agents = ["a7", "a2"]
    detail = {"rule": "evenly", "chosen": agents, "skipped": {"a1": "offline"}, "passes": 0, "idle_s": None,
              "owners": {"b", "a"}, "nested": {"k": (1, frozenset({"z", "y"}))}, 5: 2.5}
    plain = _plain(detail)
    assert plain == {"rule": "evenly", "chosen": ["a7", "a2"], "skipped": {"a1": "offline"}, "passes": 0,
                     "idle_s": None, "owners": ["a", "b"], "nested": {"k": [1, ["y", "z"]]}, "5": 2.5}
    assert plain["chosen"] is not agents  # a copy: the core's list may change after
    assert json.loads(json.dumps(plain)) == plain
