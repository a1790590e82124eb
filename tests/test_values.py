"""aifinops.core.values keeps the engine's unknown sentinels without importing pulumi: they must stay equal."""
from pulumi.runtime import rpc
from pulumi_policy import proxy

from aifinops.core.values import UNKNOWN, UNKNOWN_SENTINELS, UNKNOWN_STRING_VALUE, plain


def test_the_sentinels_are_the_sdks():
    sdk = {value for name, value in vars(proxy).items() if name.startswith("UNKNOWN_") and name.endswith("_VALUE")}
    assert UNKNOWN_SENTINELS == sdk
    assert UNKNOWN_STRING_VALUE == rpc.UNKNOWN


def test_plain_marks_every_sentinel_and_an_unreadable_item_unknown():
    class Unreadable(Exception):
        pass

    class Proxy(dict):
        def __getitem__(self, key):
            if key == "secret":
                raise Unreadable()
            return super().__getitem__(key)

    value = Proxy({"id": UNKNOWN_STRING_VALUE, "n": "3eeb2bf0-c639-47a8-9e75-3b44932eb421", "secret": 1, "x": "y"})
    assert plain(value, (Unreadable,)) == {"id": UNKNOWN, "n": UNKNOWN, "secret": UNKNOWN, "x": "y"}


def test_policies_read_the_sdks_proxies_as_reading_each_item_through_them_would():
    from pulumi_policy.proxy import unknown_checking_proxy

    from aifinops.policies import preview_values

    props = {"bucket": UNKNOWN_STRING_VALUE, "tags": {"Team": "ml", "Owner": UNKNOWN_STRING_VALUE},
             "rules": [{"days": 30, "ids": ["a", "dd056dcd-154b-4c76-9bd3-c8f88648b5ff"]}, 7], "empty": {}, "none": None}
    proxied = unknown_checking_proxy(props)
    through_the_proxy = plain(proxied, (proxy.UnknownValueError,))
    assert through_the_proxy == {"bucket": UNKNOWN, "tags": {"Team": "ml", "Owner": UNKNOWN},
                                 "rules": [{"days": 30, "ids": ["a", UNKNOWN]}, 7], "empty": {}, "none": None}
    fast = preview_values.plain(proxied)
    assert fast == through_the_proxy
    assert list(fast) == list(props) and list(fast["tags"]) == ["Team", "Owner"]  # the order kept
    assert preview_values.plain(proxied["rules"]) == through_the_proxy["rules"]  # a list proxy alone
    assert preview_values.plain(UNKNOWN_STRING_VALUE) is UNKNOWN and preview_values.plain("x") == "x"


def test_plain_copies_plain_dicts_and_lists_with_their_sentinels_and_other_mappings_inside():
    """Plain dicts and lists take a shorter path: the same result, and still a copy."""
    from types import MappingProxyType
    value = {"tags": {"a": UNKNOWN_STRING_VALUE, "b": "x"}, "list": [1, [UNKNOWN_STRING_VALUE, {"c": None}]],
             "frozen": MappingProxyType({"d": (UNKNOWN_STRING_VALUE, 2)}), "id": UNKNOWN_STRING_VALUE}
    copied = plain(value)
    assert copied == {"tags": {"a": UNKNOWN, "b": "x"}, "list": [1, [UNKNOWN, {"c": None}]],
                      "frozen": {"d": [UNKNOWN, 2]}, "id": UNKNOWN}
    assert type(copied["frozen"]) is dict and type(copied["frozen"]["d"]) is list
    copied["tags"]["b"] = "changed"
    copied["list"][1].append("more")
    assert value["tags"]["b"] == "x" and len(value["list"][1]) == 2
