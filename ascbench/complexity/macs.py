"""Multiply-accumulate counting by tracing (fvcore), with op handles set by a rule set.

The trace sees every operation the model runs, including functional ones on bare tensors.
Each traced op is attributed to the innermost module whose forward ran it. The official
torch counter (NeSsi = torchinfo) only counts *leaf modules with parameters named weight or
bias*; MACs traced anywhere else are counted here too, but reported separately as
``functional`` so a difference from the official number is shown, not hidden.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS as FVCORE_HANDLES
from fvcore.nn.jit_analysis import JitModelAnalysis
from fvcore.nn.jit_handles import bmm_flop_jit, einsum_flop_jit, get_shape, matmul_flop_jit

from ascbench.rules import MacConvention

#: Ops that cost 0 MACs under every convention here (elementwise, shape and activation ops).
ZERO_COST_OPS = """
aten::add aten::add_ aten::sub aten::sub_ aten::mul aten::mul_ aten::div aten::div_ aten::rsub
aten::neg aten::abs aten::pow aten::sqrt aten::rsqrt aten::exp aten::log aten::log10 aten::clamp
aten::clamp_min aten::clamp_max aten::maximum aten::minimum aten::max aten::min aten::mean
aten::sum aten::amax aten::amin aten::var aten::std aten::sigmoid aten::hardsigmoid aten::tanh
aten::softmax aten::log_softmax aten::relu aten::relu_ aten::relu6 aten::hardtanh
aten::hardtanh_ aten::gelu aten::silu aten::silu_ aten::hardswish aten::hardswish_
aten::leaky_relu aten::elu aten::dropout aten::dropout_ aten::feature_dropout
aten::alpha_dropout aten::flatten aten::view aten::reshape aten::permute aten::transpose aten::t
aten::contiguous aten::squeeze aten::unsqueeze aten::expand aten::expand_as aten::repeat
aten::cat aten::stack aten::chunk aten::split aten::narrow aten::slice aten::select aten::index
aten::gather aten::pad aten::constant_pad_nd aten::reflection_pad1d aten::reflection_pad2d
aten::replication_pad1d aten::replication_pad2d aten::zeros aten::zeros_like aten::ones
aten::ones_like aten::full aten::full_like aten::empty aten::empty_like aten::to aten::type_as
aten::copy_ aten::detach aten::clone aten::size aten::numel aten::Int aten::ScalarImplicit
aten::where aten::masked_fill aten::argmax aten::topk aten::sort aten::eq aten::ne aten::gt
aten::lt aten::ge aten::le aten::floor aten::ceil aten::round aten::sign aten::square
aten::log1p aten::unflatten aten::unbind aten::roll aten::flip aten::fill_ aten::zero_
aten::linspace aten::arange aten::quantize_per_tensor aten::dequantize prim::PythonOp
prim::Constant
""".split()

POOLING_OPS = """
aten::max_pool1d aten::max_pool2d aten::max_pool3d aten::avg_pool1d aten::avg_pool2d
aten::avg_pool3d aten::adaptive_avg_pool1d aten::adaptive_avg_pool2d aten::adaptive_avg_pool3d
aten::adaptive_max_pool1d aten::adaptive_max_pool2d aten::max_pool2d_with_indices
aten::upsample_nearest1d aten::upsample_nearest2d aten::upsample_bilinear2d
aten::upsample_linear1d aten::upsample_bicubic2d aten::_upsample_nearest_exact2d
aten::grid_sampler
""".split()

RNN_OPS = ("aten::gru", "aten::lstm", "aten::rnn_tanh", "aten::rnn_relu")


def _shape(value: Any) -> list[int] | None:
    try:
        return get_shape(value)
    except Exception:
        return None


def _is_tensor(value: Any) -> bool:
    return value.type().kind() != "NoneType" and _shape(value) is not None


def _convolution(conv: MacConvention, inputs: list, outputs: list) -> Counter:
    w = _shape(inputs[1])
    out = _shape(outputs[0])
    positions = out[0] * math.prod(out[2:])
    counts = Counter(conv=positions * math.prod(w))
    if conv.bias and len(inputs) > 2 and _is_tensor(inputs[2]):
        counts["conv_bias"] = positions * out[1]
    return counts


def _batch_norm(conv: MacConvention, inputs: list, outputs: list) -> Counter:
    if conv.batch_norm == "none" or not _is_tensor(inputs[1]):
        return Counter()
    out = _shape(outputs[0])
    if conv.batch_norm == "per_channel":
        affine = sum(math.prod(_shape(v)) for v in inputs[1:3] if _is_tensor(v))
        return Counter(batch_norm=out[0] * affine)
    return Counter(batch_norm=2 * math.prod(_shape(inputs[0])))


def _linear_counts(
    conv: MacConvention, x_out: list[int], in_f: int, out_f: int, has_bias: bool
) -> Counter:
    rows = x_out[0] if conv.linear == "batch_only" else math.prod(x_out[:-1])
    counts = Counter(linear=rows * in_f * out_f)
    if conv.bias and has_bias:
        counts["linear_bias"] = rows * out_f
    return counts


def _linear(conv: MacConvention, inputs: list, outputs: list) -> Counter:
    out_f, in_f = _shape(inputs[1])
    has_bias = len(inputs) > 2 and _is_tensor(inputs[2])
    return _linear_counts(conv, _shape(outputs[0]), in_f, out_f, has_bias)


def _addmm(conv: MacConvention, inputs: list, outputs: list) -> Counter:
    in_f, out_f = _shape(inputs[2])
    return _linear_counts(conv, _shape(outputs[0]), in_f, out_f, _is_tensor(inputs[0]))


def _norm(weight_positions: tuple[int, ...], inputs: list, outputs: list) -> Counter:
    """Layer, group and instance norm: batch x the elements of the affine weights found at
    ``weight_positions`` of the op's inputs."""
    out = _shape(outputs[0])
    numel = sum(
        math.prod(_shape(inputs[i]))
        for i in weight_positions
        if i < len(inputs) and _is_tensor(inputs[i])
    )
    return Counter(norm=out[0] * numel)


def _rnn(conv: MacConvention, inputs: list, outputs: list) -> Counter:
    out = _shape(outputs[0])
    steps = out[0] * out[1]  # torchinfo: prod(output[:2]) x parameters
    weights = inputs[2].node().inputs()
    counts: Counter = Counter()
    for w in weights:
        shape = _shape(w)
        if shape is None:
            continue
        if len(shape) == 1:
            if conv.bias:
                counts["rnn_bias"] += steps * shape[0]
        else:
            counts["rnn"] += steps * math.prod(shape)
    return counts


def _pooling(inputs: list, outputs: list) -> Counter:
    return Counter(pooling=math.prod(_shape(inputs[0])))


def _handles(conv: MacConvention) -> dict[str, Any]:
    """fvcore op handles (aten op name -> MAC count of one call, None: 0 MACs) under ``conv``."""
    convolution = partial(_convolution, conv)
    handles: dict[str, Any] = {
        "aten::_convolution": convolution,
        "aten::conv1d": convolution,
        "aten::conv2d": convolution,
        "aten::batch_norm": partial(_batch_norm, conv),
        "aten::linear": partial(_linear, conv),
        "aten::addmm": partial(_addmm, conv),
        "aten::matmul": matmul_flop_jit,
        "aten::mm": matmul_flop_jit,
        "aten::bmm": bmm_flop_jit,
        "aten::einsum": einsum_flop_jit,
        "aten::layer_norm": partial(_norm, (2, 3)),
        "aten::group_norm": partial(_norm, (2, 3)),
        "aten::instance_norm": partial(_norm, (1, 2)),
    }
    handles.update(dict.fromkeys(RNN_OPS, partial(_rnn, conv)))
    handles.update(dict.fromkeys(ZERO_COST_OPS))
    pooling = _pooling if conv.pooling == "input_elements" else None
    handles.update(dict.fromkeys(POOLING_OPS, pooling))
    return handles


@dataclass
class MacCount:
    """MACs of one inference, per module and per op kind."""

    #: module path -> op kind -> MACs that the official counter also counts
    counted: dict[str, Counter] = field(default_factory=dict)
    #: module path -> op kind -> MACs traced outside counted leaf modules (functional ops)
    functional: dict[str, Counter] = field(default_factory=dict)
    #: aten ops with no MAC rule, with how often they ran (counted 0)
    unsupported: dict[str, int] = field(default_factory=dict)
    uncalled_modules: list[str] = field(default_factory=list)
    #: modules whose code a torch.fx graph runs as functional ops of its own (inlined by the
    #: trace), by their path in the original model
    inlined_modules: list[str] = field(default_factory=list)
    fvcore_total: int = 0
    fvcore_by_operator: dict[str, int] = field(default_factory=dict)

    @property
    def total_counted(self) -> int:
        return sum(sum(c.values()) for c in self.counted.values())

    @property
    def total_functional(self) -> int:
        return sum(sum(c.values()) for c in self.functional.values())


def _counts_like_torchinfo(module: torch.nn.Module) -> bool:
    """torchinfo gives MACs to leaf modules only, for parameters named *weight* or *bias*."""
    if next(module.children(), None) is not None:
        return False
    return any("weight" in n or "bias" in n for n, _ in module.named_parameters(recurse=False))


def _custom_leaf(module: torch.nn.Module) -> bool:
    """A leaf module of the user's own class that torchinfo charges by parameter count."""
    return (
        _counts_like_torchinfo(module)
        and not type(module).__module__.startswith("torch.")
        and "Conv" not in type(module).__name__
    )


def inlined_modules(model: torch.nn.Module) -> list[str]:
    """For a torch.fx graph, the paths of the original modules whose operations the graph
    runs as functional nodes (torch.fx traces through modules it does not keep as leaves, and
    records where each node came from in ``nn_module_stack``); empty for an eager model."""
    if not isinstance(model, torch.fx.GraphModule):
        return []
    paths: set[str] = set()
    for node in model.graph.nodes:
        if node.op not in ("call_function", "call_method"):
            continue
        stack = node.meta.get("nn_module_stack")
        if stack:
            paths.add(str(list(stack)[-1]))
    return sorted(p for p in paths if p)


def _call_counts(model: torch.nn.Module, example: torch.Tensor, names: list[str]) -> dict[str, int]:
    modules = dict(model.named_modules())
    calls = dict.fromkeys(names, 0)
    handles = [
        modules[n].register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls[n] + 1))
        for n in names
    ]
    try:
        with torch.no_grad():
            model(example)
    finally:
        for h in handles:
            h.remove()
    return calls


#: Prefixes of the op names under which one trace counts fvcore's own numbers and the ops the
#: rule set's convention has no rule for, next to the convention's counts (see _one_trace).
_FVCORE, _UNSUPPORTED = "\0fvcore:", "\0unsupported:"


def _one_trace(analysis: JitModelAnalysis, convention: MacConvention, reference: bool) -> None:
    """Set ``analysis``'s op handles so that one trace yields the convention's counts, fvcore's
    own counts (op names prefixed ``_FVCORE``) and a count of each op the convention has no
    rule for but fvcore has (prefixed ``_UNSUPPORTED``; fvcore counts the others). A trace
    runs the model, and it was half of what profiling every bundled system cost when fvcore's
    cross-check ran its own."""
    ours = _handles(convention)
    analysis.set_op_handle(**{k: v for k, v in ours.items() if v is None})
    ignored = set(analysis._ignored_ops)  # the convention's zero-cost ops and fvcore's
    theirs = FVCORE_HANDLES if reference else {}
    handles = {}
    for kind in {k for k, v in ours.items() if v is not None} | set(theirs):
        handles[kind] = partial(
            _both_counts, kind, ours.get(kind), theirs.get(kind), kind not in ignored
        )
    analysis.set_op_handle(**handles)


def _both_counts(kind: str, ours: Any, theirs: Any, unsupported: bool, inputs, outputs) -> Counter:
    counts: Counter = Counter()
    if ours is not None:
        counts.update(_as_counter(kind, ours(inputs, outputs)))
    elif unsupported:
        counts[_UNSUPPORTED + kind] = 1
    if theirs is not None:
        for op, value in _as_counter(kind, theirs(inputs, outputs)).items():
            counts[_FVCORE + op] = value
    return counts


def _as_counter(kind: str, value: Any) -> Counter:
    """A handle's result as fvcore keeps it: a number is named after its op (no namespace)."""
    if isinstance(value, Counter):
        return value
    return Counter({kind.split("::", 1)[-1]: value})


def _split(counts: Counter, prefix: str) -> Counter:
    return Counter({k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix)})


def _trace(
    model: torch.nn.Module, example: torch.Tensor, convention: MacConvention, reference: bool
) -> tuple[dict[str, Counter], Counter, list[str], dict[str, int]]:
    """One trace of ``model``: cumulative counts per module under ``convention``, the ops it
    has no rule for, the modules never called, and fvcore's own count per op (empty without
    ``reference``)."""
    analysis = JitModelAnalysis(model, (example,))
    _one_trace(analysis, convention, reference)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = analysis.by_module_and_operator()
        unsupported = Counter(analysis.unsupported_ops())
        uncalled = sorted(analysis.uncalled_modules())
    root = traced.get("", Counter())
    unsupported.update(_split(root, _UNSUPPORTED))
    fv_ops = {k: int(v) for k, v in _split(root, _FVCORE).items()}
    cumulative = {
        name: Counter({k: v for k, v in c.items() if not k.startswith("\0")})
        for name, c in traced.items()
    }
    return cumulative, unsupported, uncalled, fv_ops


def count_macs(
    model: torch.nn.Module,
    example: torch.Tensor,
    convention: MacConvention,
    *,
    reference: bool = True,
) -> MacCount:
    """Trace ``model`` on ``example`` (eval mode, no grad) and count MACs by ``convention``.

    ``reference=False`` leaves out fvcore's own count (``fvcore_total`` is then 0), for
    callers that need the rule set's number only; both come from the same single trace.

    Leaf modules of torch's own classes are charged by their traced ops. A leaf module of a
    custom class with weight/bias parameters (and no 'Conv' in its name) is charged as the
    official counter charges it, ``batch x numel(weights and biases)`` per call; traced work
    beyond that is reported as functional.
    """
    cumulative, unsupported, uncalled, fv_ops = _trace(model, example, convention, reference)
    modules = dict(model.named_modules())
    result = MacCount(
        unsupported=dict(unsupported),
        uncalled_modules=uncalled,
        inlined_modules=inlined_modules(model),
        fvcore_total=sum(fv_ops.values()),
        fvcore_by_operator=fv_ops,
    )
    for name, module in modules.items():
        own = Counter(cumulative.get(name, Counter()))
        for child, _ in module.named_children():
            own.subtract(cumulative.get(f"{name}.{child}" if name else child, Counter()))
        own = Counter({k: int(v) for k, v in own.items() if v})
        if not own:
            continue
        target = result.counted if _counts_like_torchinfo(module) else result.functional
        target[name] = own
    _charge_custom_leaves(result, model, modules, example, convention)
    return result


def _charge_custom_leaves(
    result: MacCount,
    model: torch.nn.Module,
    modules: dict[str, torch.nn.Module],
    example: torch.Tensor,
    convention: MacConvention,
) -> None:
    """Charge each custom leaf module (see :func:`_custom_leaf`) of ``modules`` (``model``'s,
    by path) as torchinfo does, batch x its weights (and biases) per call, moving traced work
    beyond that to ``functional``."""
    custom = [name for name, module in modules.items() if _custom_leaf(module)]
    if custom:
        calls = _call_counts(model, example, custom)
        batch = int(example.shape[0])
        for name in custom:
            params = dict(modules[name].named_parameters(recurse=False))
            numel = sum(
                p.numel()
                for n, p in params.items()
                if "weight" in n or ("bias" in n and convention.bias)
            )
            official = calls[name] * batch * numel
            traced = sum(result.counted.pop(name, Counter()).values())
            if official:
                result.counted[name] = Counter(module=official)
            if traced > official:
                result.functional[name] = Counter(beyond_official=traced - official)
