"""Saving and loading compressed models: same predictions, no pickled objects loaded."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ascbench.compressors import (
    CompressionContext,
    build_steps,
    chain_spec,
    load_compressed,
    measure_compressed,
    read_chain_spec,
    run_chain,
    save_compressed,
)
from ascbench.compressors.base import CompressionError
from ascbench.plugins import load_registry

from . import nets

CHAINS = {
    "fold": [("fold_batchnorm", {})],
    "fold_no_eps": [("fold_batchnorm", {"eps": False})],
    "fp16": [("fp16", {})],
    "int8_fx": [("int8_static", {"calibration_batches": 2})],
    "int8_eager": [("int8_static", {"mode": "eager", "calibration_batches": 2})],
    "prune": [("prune_l1", {"amount": 0.5})],
    "fold_prune_int8": [
        ("fold_batchnorm", {}),
        ("prune_l1", {"amount": 0.3, "scope": "layer"}),
        ("int8_static", {"calibration_batches": 2}),
    ],
    "fold_fp16": [("fold_batchnorm", {"eps": False}), ("fp16", {})],
}


@pytest.fixture(scope="module")
def dcase2021():
    return load_registry(entry_points=False, environment=False).ruleset("dcase2021")


def _factory(kind: str):
    def build():
        torch.manual_seed(123)  # a different init from the trained model's
        return nets.TinySP4ASC() if kind == "sp4asc" else nets.ConvBNReLUNet()

    return build


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_round_trip_gives_identical_predictions(tmp_path, dcase2021, chain):
    kind = "sp4asc" if chain in ("fold", "fold_no_eps", "fold_fp16") else "cnn"
    torch.manual_seed(0)
    model = nets.randomize_bn(_factory(kind)(), seed=5).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # differ from the factory's init
    ctx = CompressionContext(calibration=nets.calibration(2), ruleset=dcase2021,
                             input_shape=nets.SHAPE)
    compressed, records = run_chain(model, build_steps(CHAINS[chain]), ctx)
    path = save_compressed(tmp_path / "model.pt", compressed,
                           chain_spec(records, nets.SHAPE, system="test"))
    loaded, spec = load_compressed(path, _factory(kind))
    assert [s.name for s in spec.stages] == [name for name, _ in CHAINS[chain]]
    assert spec.system == "test" and spec.input_shape == list(nets.SHAPE)
    x = nets.batch(6, seed=9)
    with torch.no_grad():
        assert torch.equal(loaded(x), compressed(x))
        assert not torch.equal(_factory(kind)().eval()(x), compressed(x))
    if chain == "fold_prune_int8":  # the loaded int8 model still measures like the saved one
        assert measure_compressed(loaded, dcase2021, nets.SHAPE) == measure_compressed(
            compressed, dcase2021, nets.SHAPE
        )
    # the file holds plain data only
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"format", "chain", "state_dict"}
    assert read_chain_spec(path) == spec


@dataclasses.dataclass
class Payload:
    """An arbitrary object: torch.save pickles it, weights_only loading must refuse it."""

    value: int = 1


def test_file_with_a_pickled_object_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ascbench-compressed/1", "chain": "{}", "state_dict": Payload()}, path)
    with pytest.raises(CompressionError, match="plain tensors"):
        load_compressed(path, nets.ConvLinear)


def test_wrong_architecture_is_reported(tmp_path):
    model = nets.ConvLinear()
    path = save_compressed(tmp_path / "m.pt", model, chain_spec([], nets.SHAPE))
    with pytest.raises(CompressionError, match="does not match"):
        load_compressed(path, nets.ConvBNReLUNet)
    with pytest.raises(CompressionError, match="no such"):
        load_compressed(tmp_path / "missing.pt", nets.ConvLinear)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(CompressionError, match="junk.pt"):
        load_compressed(tmp_path / "junk.pt", nets.ConvLinear)
