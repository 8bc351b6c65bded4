"""benchmarks/peers.py at a tiny size: a row per competitor with positive times.

bobench's GP strategies always run; each peer runs where its package is installed (the ``peers``
extra, in a venv of its own: docs/performance.md) and is skipped where it is not. No speed is
asserted: the figures are the benchmark's to report, not a test's to check.
"""

from __future__ import annotations

import importlib.util

import pytest

from benchmarks import peers

pytestmark = pytest.mark.slow

SIZE = 12  # Optuna's GPSampler starts after 10 random trials


def assert_rows(table: peers.Table, names: list[str]) -> None:
    assert table.names == names
    lines = table.format("wall").splitlines()
    assert len(lines) == 1 + len(names)  # a header, then a row per competitor
    for name, line in zip(names, lines[1:], strict=True):
        assert line.split()[0] == name
        for clock in ("wall", "cpu"):
            values = table.seconds[clock][(name, SIZE)]
            assert len(values) == 1 and values[0] > 0, (name, clock, values)


def test_the_gp_presets_are_every_gp_strategy_yaml_once() -> None:
    presets, same = peers.gp_presets()
    assert {"ei", "ucb", "lp", "async_ts", "ts_hallucinate"} <= set(presets)
    assert same["sync_ts"] == "async_ts"  # the same strategy config, measured once
    assert not {"ax", "grid", "random"} & set(presets)  # not GP strategies of bobench's


def test_every_bobench_gp_strategy_gets_a_row_with_positive_times() -> None:
    presets, _ = peers.gp_presets()
    table = peers.measure(presets, [], [SIZE], decisions=1, repetitions=1, running=1)
    assert_rows(table, presets)
    assert table.ratio(presets[0], SIZE) is None  # no GPSampler here to divide by


@pytest.mark.parametrize("peer", peers.PEERS, ids=lambda p: p.name)
def test_each_installed_peer_gets_a_row_with_positive_times(peer: peers.Peer) -> None:
    pytest.importorskip(peer.module)
    why = peer.missing()  # a version too old for what the peer uses (optuna 2.10 beside the sweeper)
    if why:
        pytest.skip(why)
    table = peers.measure([], [peer.name], [SIZE], decisions=1, repetitions=1, running=1)
    assert_rows(table, [peer.name])
    assert table.missing == {}
    if peer.name == peers.REFERENCE:
        assert table.ratio(peer.name, SIZE) == pytest.approx(1.0)


def test_a_peer_whose_package_is_missing_is_named_not_run() -> None:
    assert importlib.util.find_spec("bobench_no_such_peer") is None
    missing = peers.Peer("nothing", peers.optuna_tpe, "bobench_no_such_peer").missing()
    assert missing == "bobench_no_such_peer is not installed"
    table = peers.Table([SIZE], ["ei"], missing={"nothing": missing})
    assert "nothing: not run, bobench_no_such_peer is not installed" in table.notes()
