"""helpers.timing: medians, and alternation for fair comparisons."""

import time

import pytest

from helpers.timing import compare_ms, time_ms


def test_compare_ms_alternates_rotates_and_keeps_order():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b"), "c": lambda: calls.append("c")}
    result = compare_ms(fns, repeat=4, warmup=1)
    assert list(result) == ["a", "b", "c"]
    # one warm-up call each, then every function once per round (an untimed call right
    # before its timed one), each round starting one function later
    rounds = [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]]
    assert calls == ["a", "b", "c"] + [f for order in rounds for f in order for _ in range(2)]


def test_each_timed_call_follows_a_call_of_the_same_function():
    """What ran before must not be billed to the next function: here "b" after "a" is slow."""
    state = {"last": None}

    def make(name, cost_after_other):
        def fn():
            if state["last"] not in (None, name):
                time.sleep(cost_after_other)
            state["last"] = name
        return fn

    result = compare_ms({"a": make("a", 0.0), "b": make("b", 0.02)}, repeat=5, warmup=0)
    assert result["b"] < 10  # ms: never the 20 ms sleep


def test_compare_ms_reports_medians_in_ms():
    result = compare_ms({"sleep": lambda: time.sleep(0.004), "noop": lambda: None}, repeat=5, warmup=0)
    assert 3.5 <= result["sleep"] < 50  # milliseconds, not seconds
    assert result["noop"] < result["sleep"]


def test_time_ms_is_compare_ms_of_one():
    calls = []
    assert time_ms(lambda: calls.append(1), repeat=4, warmup=2) >= 0
    assert len(calls) == 6  # a lone function follows itself anyway: no priming calls


def test_repeat_must_be_positive():
    with pytest.raises(ValueError, match="repeat must be at least 1"):
        compare_ms({"x": lambda: None}, repeat=0)
