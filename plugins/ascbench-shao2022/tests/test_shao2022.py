"""The Mini-SegNet PROPOSAL: sizes of notes/systems.md (004), mixup-norm, 2022 compliance."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from ascbench_shao2022.mixup_norm import MixupNorm
from ascbench_shao2022.model import (
    STUDENT_HIDDEN,
    STUDENT_WIDTHS,
    TEACHER_HIDDEN,
    TEACHER_WIDTHS,
    shao2022_minisegnet_proposal,
)
from ascbench_shao2022.plugin import TABLE1, TABLE2, TABLE3

from ascbench.build import build_frontend
from ascbench.complexity import measure
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system

TEACHER, STUDENT = "shao2022_teacher_proposal", "shao2022_student_proposal"
INPUT = (3, 256, 36)

# notes/systems.md 004: parameters per part (torch convention).
PARTS = {
    "teacher": {"enc1": 336, "enc2": 32_688, "dec1": 41_760, "dec2": 4_656, "classifier": 395_338},
    "student": {"enc1": 168, "enc2": 8_280, "dec1": 10_512, "dec2": 1_176, "classifier": 99_370},
}


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(which: str) -> torch.nn.Module:
    if which == "teacher":
        return shao2022_minisegnet_proposal(10, INPUT, TEACHER_WIDTHS, TEACHER_HIDDEN)
    return shao2022_minisegnet_proposal(10, INPUT, STUDENT_WIDTHS, STUDENT_HIDDEN)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: on the shared 2-core machines, two threads spin against each other."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


@pytest.mark.parametrize(("which", "total"), [("teacher", 474_778), ("student", 119_506)])
def test_parameter_counts(which, total):
    net = build(which)
    assert {name: count(getattr(net, name)) for name in PARTS[which]} == PARTS[which]
    assert count(net) == total


@pytest.mark.parametrize(
    ("which", "widths"), [("teacher", TEACHER_WIDTHS), ("student", STUDENT_WIDTHS)]
)
def test_shapes(which, widths):
    c1, _, c3, c4, c5 = widths
    net = build(which).eval()
    x = torch.randn(2, *INPUT)
    with torch.no_grad():
        e1 = net.enc1(x)
        e2 = net.enc2(e1)
        d1 = net.dec1(e2)
        d2 = net.dec2(d1)
        out = net(x)
    assert [tuple(t.shape[1:]) for t in (e1, e2, d1, d2)] == [
        (c1, 128, 18),
        (c3, 32, 4),
        (c4, 64, 8),
        (c5, 128, 16),
    ]
    assert out.shape == (2, 10)


def test_mixup_norm_is_an_affine_instance_norm_in_eval():
    norm = MixupNorm(6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    reference = torch.nn.InstanceNorm2d(6, affine=True)
    reference.load_state_dict(norm.state_dict())
    x = torch.randn(4, 6, 10, 7) * 3 + 1
    torch.testing.assert_close(norm.eval()(x), reference(x))
    assert count(norm) == 12 and not list(norm.buffers())


def test_mixup_norm_mixes_statistics_only_in_training():
    x = torch.randn(8, 4, 16, 9) * torch.linspace(0.5, 4, 8).view(8, 1, 1, 1)
    norm = MixupNorm(4, p=1.0)
    plain = F.instance_norm(x, weight=norm.weight, bias=norm.bias)
    torch.manual_seed(0)
    mixed = norm.train()(x)
    assert not torch.allclose(mixed, plain, atol=1e-3)
    torch.manual_seed(0)
    torch.testing.assert_close(norm(x), mixed)  # seeded by torch's generator
    torch.testing.assert_close(MixupNorm(4, p=0.0).train()(x), plain)
    torch.testing.assert_close(norm.eval()(x), plain)
    # identical examples: the mixed statistics are each example's own
    same = x[:1].expand(5, -1, -1, -1).contiguous()
    torch.testing.assert_close(norm.train()(same), plain[:1].expand(5, -1, -1, -1))


def test_student_passes_dcase2022_as_measured(registry):
    report = measure(build("student"), registry.ruleset("dcase2022"), INPUT)
    assert (report.parameters, report.macs, report.macs_official) == (
        119_506,
        15_927_610,
        15_927_610,
    )
    assert report.parameters <= 128_000 and report.macs <= 30_000_000
    assert report.status == "pass" and report.flags == []


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "shao2022"]
    assert info.origin == "entry point" and info.distribution == "ascbench-shao2022"
    assert info.registered == {
        "model": ["shao2022_minisegnet_proposal"],
        "system": [TEACHER, STUDENT],
    }


def test_systems_are_labelled_proposals_and_build(registry):
    for name, total in ((TEACHER, 474_778), (STUDENT, 119_506)):
        system = registry.system(name)
        assert system.proposal and "proposal" in name and "PROPOSAL" in system.title
        assert build_frontend(registry, system).output_shape(1.0) == INPUT
        model = registry.get("model", system.model.name).build(
            num_classes=10, input_shape=INPUT, **system.model.params
        )
        assert count(model) == total


def test_student_recipe(registry):
    student = registry.system(STUDENT)
    r = student.recipe
    assert (r.batch_size, r.epochs, r.optimizer, r.lr) == (128, 310, "sgd", 0.1)
    assert r.scheduler == "warm_restarts"
    assert r.scheduler_params["periods"] == [10, 20, 40, 80, 160]
    assert sum(r.scheduler_params["periods"]) == r.epochs
    assert (r.mixup_alpha, r.extra["mixup_mode"]) == (0.3, "two_batches")
    s = r.specaugment
    assert (s.time_masks, s.time_width, s.freq_masks, s.freq_width) == (1, 3, 2, 20)
    distillation = r.distillation
    assert registry.system(distillation.teacher).name == TEACHER
    assert (distillation.temperature, distillation.weight) == (2.0, 0.5)
    assert registry.system(TEACHER).recipe.distillation is None
    assert [c.name for c in student.compressors] == ["int8_static"]
    assert registry.system(TEACHER).compressors == []


@pytest.mark.parametrize(
    ("name", "rules", "expected"),
    [
        # profile applies the student's int8_static: its 240 BN values fold into the convs
        (STUDENT, "dcase2022", (36, 119_266, 15_927_370, "pass")),
        (TEACHER, "dcase2022", (36, 474_778, 60_658_282, "fail")),
        # 10-s clips: 431 - 8 = 423 frames; int8 weights (1 B) and fp32 biases fit in 128 KB;
        # the teacher's BN running statistics count (2 x 240) and its bytes are fp32
        (STUDENT, "dcase2021", (423, 119_266, 195_304_522, "pass")),
        (TEACHER, "dcase2021", (423, 475_258, 745_290_346, "fail")),
    ],
)
def test_profiles(registry, name, rules, expected):
    frames, parameters, macs, status = expected
    profile = profile_system(registry, registry.system(name), registry.ruleset(rules))
    c = profile.complexity
    assert c.input_shape == [1, 3, 256, frames]
    assert (c.parameters, c.macs, profile.status) == (parameters, macs, status)


def test_the_mac_note_names_what_the_official_counter_reports_on_each_form(registry):
    """The int8 student's MACs are traced on its FX float form, where torch.fx inlined the two
    MixupNorm layers: 32 MACs in functional ops. The official counter reports 15,927,338 on
    that form and 15,927,370 on the eager float model, where the layers are modules; and the
    inlined layers ran, so they are not 'never called'."""
    profile = profile_system(registry, registry.system(STUDENT), registry.ruleset("dcase2022"))
    flags = profile.complexity.flags
    assert profile.complexity.macs == 15_927_370
    (note,) = [f for f in flags if "functional ops" in f]
    assert "torch.fx inlined dec2.1.norm, enc1.0.norm" in note
    assert "reports 15,927,338 on that form and 15,927,370 on the eager float model" in note
    assert not any("never called" in f for f in flags), flags


def test_student_int8_chain_when_available(registry):
    if "int8_static" not in registry.names("compressor"):
        pytest.skip("compressor int8_static is not registered yet")
    from types import SimpleNamespace

    student = registry.system(STUDENT)
    (ref,) = student.compressors
    model = build("student").eval()
    batches = [torch.randn(4, *INPUT) for _ in range(2)]
    compressor = registry.get("compressor", ref.name).build(
        **{**ref.params, "calibration_batches": 2}
    )
    quantized = compressor.compress(model, SimpleNamespace(calibration=batches, notes=[]))
    with torch.no_grad():
        out = quantized(batches[0])
        ref_out = model(batches[0])
    assert out.shape == (4, 10)
    assert (out - ref_out).abs().max() < 0.1 * ref_out.abs().max() + 0.05
    from ascbench.compressors.quantize import float_reference

    # conv+BN+ReLU fused: the 2 x 120 BN values fold away; 118,992 int8 weights, and 274 fp32
    # values (242 biases, 32 mixup-norm affine values)
    report = measure(
        quantized, registry.ruleset("dcase2022"), INPUT, mac_model=float_reference(quantized)
    )
    assert (report.parameters, report.status) == (119_506 - 240, "pass")
    assert report.values_by_dtype == {"qint8": 118_992, "float32": 274}


def test_reported_numbers(registry):
    teacher = registry.system(TEACHER).reported
    assert (teacher.parameters, teacher.accuracy) == (474_000, 58.14)
    assert teacher.device_wise == {
        "a": {"accuracy": 68.10},
        "b": {"accuracy": 62.95},
        "c": {"accuracy": 66.66},
        "seen": {"accuracy": 56.00},
        "unseen": {"accuracy": 51.71},
    }
    student = registry.system(STUDENT).reported
    assert (student.parameters, student.accuracy, student.log_loss) == (120_210, 53.09, None)
    assert TABLE2[1] == (False, "120.21k", 53.09)
    assert [row["average"] for row in TABLE3.values()] == [57.42, 56.68]
    assert TABLE1["Mini-SegNet"][0] == teacher.accuracy
