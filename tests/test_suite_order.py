"""The suite's own scheduling (tests/conftest.py): the order in which xdist's worksteal workers
get the tests."""
from conftest import order_for_workers

# 16 tests in 6 modules; three of them heavy
MODULES = [("a", 3), ("big", 2), ("b", 4), ("huge", 3), ("c", 2), ("mid", 2)]
IDS = [f"tests/test_{name}.py::test_{i}" for name, n in MODULES for i in range(n)]
SECONDS = {"tests/test_big.py": 100, "tests/test_huge.py": 300, "tests/test_mid.py": 50, "tests/test_c.py": 1}


def _modules(ids):
    return [i.split("::")[0].removeprefix("tests/test_").removesuffix(".py") for i in ids]


def test_each_share_opens_with_heavy_modules_and_ends_with_light_ones():
    order = order_for_workers(IDS, 2, SECONDS)
    assert sorted(order) == list(range(len(IDS)))  # every test once
    first, second = [IDS[i] for i in order[:8]], [IDS[i] for i in order[8:]]  # xdist hands out 8 and 8
    # the longest module to one worker, the next two (together shorter) to the other
    assert _modules(first) == ["huge"] * 3 + ["a"] * 3 + ["b"] * 2
    assert _modules(second) == ["big"] * 2 + ["mid"] * 2 + ["b"] * 2 + ["c"] * 2
    # a module's tests keep their order
    assert [i for i in IDS if i.startswith("tests/test_b.py")] == first[-2:] + second[4:6]


def test_three_workers_and_no_heavy_module():
    order = order_for_workers(IDS, 3, {"tests/test_b.py": 500, "tests/test_huge.py": 300})
    assert sorted(order) == list(range(len(IDS)))
    ids = [IDS[i] for i in order]
    # xdist hands out 5, 5 and 6 tests: b (4 tests) and huge (3) open two shares, light ones fill up
    assert _modules(ids[:5]) == ["b"] * 4 + ["a"]
    assert _modules(ids[5:10]) == ["huge"] * 3 + ["a"] * 2
    assert _modules(ids[10:]) == ["big"] * 2 + ["c"] * 2 + ["mid"] * 2
    assert order_for_workers(IDS, 2, {}) == list(range(len(IDS)))  # nothing heavy: collection order
