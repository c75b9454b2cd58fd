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


def test_provenance_records_what_selects_the_kernels(monkeypatch):
    """Schema 3: numpy version and torch's CPU kernel choice (instruction set, oneDNN, int8
    engine, environment overrides), as this process has them."""
    import numpy
    import torch

    from ascbench.leaderboard.provenance import kernel_info

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    p = collect_provenance(seed=0, budget=Budget(full=False), device="cpu", started=utc_now())
    assert p.numpy_version == numpy.__version__
    k = p.kernels
    assert k == kernel_info()
    assert k.cpu_capability == torch.backends.cpu.get_cpu_capability()
    assert k.onednn == (torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled)
    config = torch.__config__.show()
    if k.onednn_version is not None:
        assert f"v{k.onednn_version}" in config
    if "MKL-DNN v" in config or "oneDNN v" in config:
        assert k.onednn_version and k.onednn_version[0].isdigit()
    assert k.quantized_engine == torch.backends.quantized.engine
    assert k.environment == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert k.describe().startswith(k.cpu_capability + ", ")
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in k.describe()


def test_kernels_are_shown_in_the_rendered_provenance(make_entry):
    from ascbench.leaderboard import build_leaderboard, render_html, render_markdown

    board = build_leaderboard([make_entry("a")])
    for page in (render_html(board), render_markdown(board)):
        assert "2 torch threads, kernels AVX2, oneDNN 3.12.0, int8 x86" in page
        assert "torch 2.13.0, py 3.11.7, numpy 2.4.6" in page
    off = make_entry("a").provenance.kernels.model_copy(update={"onednn": False})
    assert off.describe() == "AVX2, oneDNN off, int8 x86"
