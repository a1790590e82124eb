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
