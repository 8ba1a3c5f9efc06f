"""The engine's arbitration on hand-made streams: greedy grants in priority order
(docs/architecture-model.md, "Arbitration"), checked against the cycle-stepped reference too."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from xbarsim.timing.engine import run_stream

from ..naive_timing import naive_run


def _stream(steps):
    """A stream of independent one-operation steps: ``steps`` lists (resources, duration)."""
    res = [r for resources, _ in steps for r in resources]
    n = len(steps)
    zeros = np.zeros(n + 1, dtype=np.int64)
    stream = SimpleNamespace(
        operations=n, steps=n, res=np.array(res, dtype=np.int64),
        res_ptr=np.concatenate([[0], np.cumsum([len(r) for r, _ in steps])]).astype(np.int64),
        op_region=np.full(n, -1, dtype=np.int64), op_seq=np.full(n, -1, dtype=np.int64),
        op_amount=np.ones(n, dtype=np.int64), op_uses=np.zeros(n, dtype=np.int64),
        pred_ptr=zeros, pred=np.zeros(0, dtype=np.int64), dep_ptr=zeros, dep=np.zeros(0, dtype=np.int64),
        rel_ptr=zeros, rel=np.zeros(0, dtype=np.int64), step_ops=np.arange(n + 1, dtype=np.int64),
        op_step=np.arange(n, dtype=np.int64))
    durations = np.array([d for _, d in steps], dtype=np.int64)
    return stream, durations


def _both(steps, servers):
    """Start cycles from the engine and from the reference."""
    stream, durations = _stream(steps)
    resources = 1 + max(r for rs, _ in steps for r in rs)
    capacities = np.full(resources, servers, dtype=np.int64)
    timeline = run_stream(stream, durations, capacities, np.zeros(0, dtype=np.int64))
    naive = naive_run([{"step": i, "resources": tuple(rs), "duration": d, "preds": [], "region": -1, "seq": -1,
                        "amount": 1} for i, (rs, d) in enumerate(steps)],
                      [{"deps": [], "releases": []} for _ in steps], {r: servers for r in range(resources)}, {})
    assert timeline.start.tolist() == [naive[i][2] for i in range(len(steps))]
    return timeline.start.tolist()


def test_a_later_operation_overtakes_one_that_waits_for_another_resource():
    # op 1 (a transfer over resources 0 and 1) waits for resource 0; op 2 needs only resource 1,
    # which is free: it starts at once instead of waiting behind op 1 (no head-of-line blocking)
    assert _both([((0,), 10), ((0, 1), 5), ((1,), 3)], servers=1) == [0, 10, 0]


def test_an_earlier_operation_wins_a_resource_both_can_take():
    # ops 0 and 1 both need resource 1 and can start at cycle 0: the earlier step takes it
    assert _both([((0, 1), 4), ((1,), 3), ((0,), 2)], servers=1) == [0, 4, 4]


def test_the_overtaken_operation_starts_once_all_its_resources_are_free_together():
    # op 1 needs 0 and 1; op 2 takes 1 while 0 is busy and holds it past 0's release: op 1 waits
    # for both (it holds nothing while it waits)
    assert _both([((0,), 3), ((0, 1), 2), ((1,), 6)], servers=1) == [0, 6, 0]


def test_servers_are_granted_to_waiting_operations_in_priority_order():
    # two servers each; the later single-resource ops fill what the transfers leave
    starts = _both([((0, 1), 5), ((0, 1), 5), ((0, 1), 5), ((1,), 1), ((0,), 1)], servers=2)
    assert starts == [0, 0, 5, 5, 5]
