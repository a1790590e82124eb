"""Work shared by the policies of one Analyzer call (aifinops.policies.call_memo)."""
from __future__ import annotations

import threading

import pulumi_policy.policy

from aifinops.policies import call_memo, packs
from aifinops.policies.call_memo import once_per_call


class Servicer:
    def __init__(self) -> None:
        self.computed = 0

    def AnalyzeStack(self, request, context):
        def compute():
            self.computed += 1
            return [request]
        first, second = once_per_call("views", compute), once_per_call("views", compute)
        return first is second, once_per_call(("other", request), lambda: request)


def test_a_call_computes_once_and_the_next_call_afresh():
    call_memo.install(Servicer)
    servicer = Servicer()
    assert servicer.AnalyzeStack("a", None) == (True, "a")
    assert servicer.AnalyzeStack("b", None) == (True, "b")  # nothing kept from the call before
    assert servicer.computed == 2


def test_outside_a_call_nothing_is_kept():
    calls = []
    assert once_per_call("k", lambda: calls.append(1) or len(calls)) == 1
    assert once_per_call("k", lambda: calls.append(1) or len(calls)) == 2


def test_calls_in_parallel_threads_keep_their_own_memo():
    seen = {}
    barrier = threading.Barrier(2)

    class Waiting(Servicer):
        def AnalyzeStack(self, request, context):
            once_per_call("views", lambda: request)
            barrier.wait(timeout=10)  # both calls hold a memo at once
            seen[request] = once_per_call("views", lambda: "recomputed")

    call_memo.install(Waiting)
    waiting = Waiting()
    threads = [threading.Thread(target=waiting.AnalyzeStack, args=(name, None)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == {"x": "x", "y": "y"}


def test_installing_twice_wraps_once_and_a_built_in_pack_installs_it(monkeypatch):
    call_memo.install(Servicer)
    wrapped = Servicer.AnalyzeStack
    call_memo.install(Servicer)
    assert Servicer.AnalyzeStack is wrapped

    servicer_class = pulumi_policy.policy._PolicyAnalyzerServicer
    monkeypatch.setattr(servicer_class, "AnalyzeStack", servicer_class.AnalyzeStack.__wrapped__
                        if hasattr(servicer_class.AnalyzeStack, "__wrapped__") else servicer_class.AnalyzeStack)
    monkeypatch.setattr(packs, "PolicyPack", lambda **kwargs: None)
    monkeypatch.setattr(packs, "_collect_garbage_less_often", lambda: None)
    packs.serve("cost")
    assert getattr(servicer_class.AnalyzeStack, "with_call_memo", False)
