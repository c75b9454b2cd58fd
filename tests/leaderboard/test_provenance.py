"""Provenance collection on this machine."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta, timezone

from ascbench.leaderboard import Budget, DatasetInfo, collect_provenance, utc_now
from ascbench.leaderboard.provenance import git_state, hardware_info


def test_collect_provenance_describes_this_machine():
    started = utc_now() - timedelta(seconds=5)
    p = collect_provenance(
        seed=2,
        budget=Budget(full=False, epochs=1),
        device="cpu",
        started=started,
        dataset=DatasetInfo(name="synthetic", fingerprint="ab" * 32, clips={"test": 10}),
        plugin_versions={"ascbench-test": "0.0.1"},
    )
    assert p.seed == 2 and p.device == "cpu"
    assert p.hardware.cores >= 1 and p.hardware.cpu
    assert p.started.tzinfo == timezone.utc and p.finished >= p.started
    assert 4 <= p.wall_seconds < 600
    assert p.torch_version and p.python_version.count(".") == 2
    assert p.model_dump(mode="json")["started"].endswith("Z")
    if p.git_commit is not None:
        assert len(p.git_commit) == 40


def test_git_state_outside_a_checkout(tmp_path):
    assert git_state(tmp_path) == (None, None)


def test_hardware_describe():
    hw = hardware_info("cpu")
    assert hw.describe().startswith(hw.cpu) and f"({hw.cores} cores)" in hw.describe()


def test_hash_recipe_from_the_docs_works_without_ascbench(tmp_path, make_entry):
    from ascbench.leaderboard import ResultStore

    path = ResultStore(tmp_path).write(make_entry())
    data = json.loads(path.read_text(encoding="utf-8"))
    stored = data.pop("entry_hash")
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == stored
