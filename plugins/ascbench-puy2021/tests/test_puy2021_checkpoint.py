"""Checkpoints in the exact upstream format: strict round trip, safe loading, clear errors."""

from __future__ import annotations

import collections

import pytest
import torch
from ascbench_puy2021.checkpoint import read_checkpoint
from ascbench_puy2021.inference import deploy
from ascbench_puy2021.model import SP4ASCNet, sp4asc_cnn

from ascbench.errors import AscbenchError

CONFIG = {
    "batchsize": 32,
    "num_workers": 4,
    "reload": False,
    "net": "Cnn6_60k",
    "dropout": 0.2,
    "specAugment": [128, 2, 32, 2],
    "lr": 1e-3,
    "eta_min": 1e-5,
    "max_epoch": 200,
    "weight_decay": 1e-5,
    "mixup_alpha": None,
    "out_dir": "./trained_models/",
}


def save_upstream(net: SP4ASCNet, path, epoch: int = 200) -> None:
    """Save like valeoai/SP4ASC TrainingManager.save_state: the AdamW and cosine-schedule
    states are real (one step on made-up gradients); the weights saved are ``net``'s."""
    snapshot = {k: v.clone() for k, v in net.state_dict().items()}
    optim = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=200, eta_min=1e-5)
    for p in net.parameters():
        p.grad = torch.full_like(p, 1e-3)
    optim.step()
    sched.step()
    net.load_state_dict(snapshot)
    net.zero_grad(set_to_none=True)
    torch.save(
        {
            "epoch": epoch,
            "net": collections.OrderedDict(net.state_dict()),
            "optim": optim.state_dict(),
            "scheduler": sched.state_dict(),
            "config": CONFIG,
        },
        path,
    )


@pytest.fixture
def released(tmp_path, make_trained):
    """A synthetic checkpoint in the released format, and the network it was made from."""
    net = make_trained(seed=4)
    path = tmp_path / "cnn6_small_dropout_2_specAugment_128_2_32_2" / "ckpt.pth"
    path.parent.mkdir()
    save_upstream(net, path)
    return net, path


def test_upstream_checkpoint_round_trips_strictly(released, features):
    source, path = released
    ckpt = read_checkpoint(path)
    assert ckpt.upstream and ckpt.epoch == 200 and ckpt.config["specAugment"] == [128, 2, 32, 2]
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert set(raw) == {"epoch", "net", "optim", "scheduler", "config"}
    assert len(raw["optim"]["state"]) == len(list(source.parameters()))

    net = sp4asc_cnn(specaugment=[128, 2, 32, 2], weights=str(path)).eval()
    for key, value in source.state_dict().items():
        assert torch.equal(net.state_dict()[key], value), key
    x = features(2, time=32)
    with torch.no_grad():
        assert torch.equal(net(x), source(x))
        assert torch.equal(deploy(net)(x), deploy(source)(x))
    # a model folder (holding ckpt.pth) is accepted as well
    again = sp4asc_cnn(weights=str(path.parent)).eval()
    assert torch.equal(again.conv1.bn.running_var, source.conv1.bn.running_var)


def test_plain_state_dict_is_accepted(tmp_path, make_trained):
    source = make_trained(seed=2)
    path = tmp_path / "state.pt"
    torch.save(source.state_dict(), path)
    ckpt = read_checkpoint(path)
    assert not ckpt.upstream and ckpt.epoch is None
    net = sp4asc_cnn(weights=str(path))
    assert torch.equal(net.fc2.weight, source.fc2.weight)


def _one_line_naming(exc: pytest.ExceptionInfo, path) -> str:
    message = str(exc.value)
    assert "\n" not in message and str(path) in message
    return message


def test_missing_file_is_a_one_line_error(tmp_path):
    path = tmp_path / "nowhere" / "ckpt.pth"
    with pytest.raises(AscbenchError) as exc:
        sp4asc_cnn(weights=str(path))
    assert "not found" in _one_line_naming(exc, path)


def test_corrupt_and_truncated_files_are_one_line_errors(tmp_path, released):
    _, good = released
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:5000])
    for path in (garbage, truncated):
        with pytest.raises(AscbenchError) as exc:
            sp4asc_cnn(weights=str(path))
        _one_line_naming(exc, path)


class Payload:
    """An object whose unpickling would run code (sets a flag)."""

    executed = False

    def __reduce__(self):
        return (_mark_executed, ())


def _mark_executed() -> None:
    Payload.executed = True


def test_arbitrary_objects_are_refused_not_unpickled(tmp_path, make_trained):
    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1, "net": make_trained().state_dict(), "optim": Payload()}, path)
    Payload.executed = False
    with pytest.raises(AscbenchError) as exc:
        sp4asc_cnn(weights=str(path))
    assert "weights_only=True" in _one_line_naming(exc, path)
    assert Payload.executed is False


@pytest.mark.parametrize(
    "other, expected",
    [
        (lambda: SP4ASCNet(channels=(32, 64, 64, 64)).state_dict(), "shape mismatch"),
        (lambda: SP4ASCNet(num_classes=3).state_dict(), "fc2.weight"),
        (lambda: {"conv1.weight": torch.zeros(3)}, "missing"),
        (lambda: deploy(SP4ASCNet(), fp16=False).state_dict(), "already-folded"),
        (lambda: {"epoch": 3, "net": [1, 2]}, "not a state dict"),
        (lambda: torch.zeros(4), "not a checkpoint dict"),
    ],
)
def test_wrong_architecture_or_structure_is_a_one_line_error(tmp_path, other, expected):
    path = tmp_path / "other.pth"
    torch.save(other(), path)
    with pytest.raises(AscbenchError) as exc:
        sp4asc_cnn(weights=str(path))
    assert expected in _one_line_naming(exc, path)
