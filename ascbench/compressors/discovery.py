"""Finding which modules run one after the other: conv→BN pairs and conv(→BN)→ReLU groups.

Batch-norm folding and int8 fusion need to know that a batch norm is applied to the output of
a given convolution and to nothing else. Module order in ``named_modules()`` does not say
that, so pairs are found in three ways, most trusted first:

1. **Declared** by the model. Any module of the model (the root or a submodule) may define

   .. code-block:: python

       def fold_pairs(self):
           return [("conv", "bn"),                        # bn(conv(x))
                   (("sp_conv1", "sp_conv2"), "bn"),      # bn(sp_conv1(x) + sp_conv2(x))
                   FoldPair(bn="bn", convs=("a", "b"), bias_on="a"),
                   (None, "bn0")]                         # standalone BN -> Affine

   with names relative to that module. A pair with several convolutions means the BN is
   applied to the **sum** of their outputs (e.g. SP4ASC's SepConv): the BN scale folds into
   every kernel and the shift becomes a bias of ``bias_on`` (default: the last one). A pair
   with no convolution marks a standalone BN that becomes an :class:`~ascbench.compressors.
   fold.Affine` layer (e.g. a BN over mel bins applied to the transposed input).

   Likewise ``fuse_groups(self) -> list[list[str]]`` declares module groups for eager int8
   fusion (``[conv, bn, relu]``, ``[conv, relu]``, ``[linear, relu]``, ...).
2. **Traced** with ``torch.fx.symbolic_trace``: a BN whose only input is a conv (or a sum of
   convs) that feeds nothing else, each module called exactly once.
3. **Adjacent** in an ``nn.Sequential`` (used when the model cannot be traced).

Declared pairs win; traced or adjacent pairs that touch a declared module are dropped.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ascbench.compressors.base import CompressionError, join

CONV_TYPES: tuple[type[nn.Module], ...] = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
LINEAR_TYPES: tuple[type[nn.Module], ...] = (nn.Linear,)
FOLDABLE_TYPES = CONV_TYPES + LINEAR_TYPES
RELU_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU,)

Discovery = Literal["auto", "declared", "fx", "sequential"]


@dataclass(frozen=True)
class FoldPair:
    """A batch norm ``bn`` applied to the sum of the outputs of ``convs`` (paths in the model).

    ``convs`` empty means a standalone batch norm (folded into an Affine layer). ``bias_on``
    is the conv that receives the batch norm's shift as its bias (default: the last conv).
    """

    bn: str
    convs: tuple[str, ...] = ()
    bias_on: str | None = None
    source: str = "declared"

    @property
    def shift_target(self) -> str | None:
        if self.bias_on is not None:
            return self.bias_on
        return self.convs[-1] if self.convs else None

    @classmethod
    def coerce(cls, item: Any, prefix: str = "", source: str = "declared") -> FoldPair:
        """A FoldPair from a FoldPair, a ``(conv | [convs] | None, bn)`` pair or a mapping."""
        if isinstance(item, FoldPair):
            convs, bn, bias_on = item.convs, item.bn, item.bias_on
        elif isinstance(item, dict):
            unknown = set(item) - {"conv", "convs", "bn", "bias_on"}
            if unknown or "bn" not in item:
                raise CompressionError(
                    f"fold pair {item!r}: use keys 'bn' and 'conv' or 'convs' (and optionally "
                    "'bias_on')"
                )
            raw = item.get("convs", item.get("conv"))
            convs, bn, bias_on = _names(raw), item["bn"], item.get("bias_on")
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            convs, bn, bias_on = _names(item[0]), item[1], None
        else:
            raise CompressionError(
                f"fold pair {item!r}: expected (conv_name, bn_name), ([conv names], bn_name), "
                "(None, bn_name) or a FoldPair"
            )
        if not isinstance(bn, str) or not bn:
            raise CompressionError(f"fold pair {item!r}: the batch-norm name must be a string")
        if bias_on is not None and bias_on not in convs:
            raise CompressionError(
                f"fold pair {item!r}: bias_on {bias_on!r} is not one of its convs {list(convs)}"
            )
        return cls(
            bn=join(prefix, bn),
            convs=tuple(join(prefix, c) for c in convs),
            bias_on=join(prefix, bias_on) if bias_on is not None else None,
            source=source,
        )


def _names(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Iterable) and all(isinstance(c, str) for c in raw):
        return tuple(raw)
    raise CompressionError(f"fold pair: conv names must be strings, got {raw!r}")


def _out_features(module: nn.Module) -> int:
    return int(module.weight.shape[0])


# -- declared ---------------------------------------------------------------------------------


def declared_pairs(model: nn.Module) -> list[FoldPair]:
    """Pairs declared by ``fold_pairs()`` methods of the model and its submodules."""
    pairs = []
    for prefix, module in model.named_modules():
        method = getattr(type(module), "fold_pairs", None)
        if callable(method):
            pairs.extend(FoldPair.coerce(p, prefix) for p in (module.fold_pairs() or []))
    return pairs


def declared_fuse_groups(model: nn.Module) -> list[list[str]]:
    """Groups declared by ``fuse_groups()`` methods of the model and its submodules."""
    groups = []
    for prefix, module in model.named_modules():
        method = getattr(type(module), "fuse_groups", None)
        if callable(method):
            for group in module.fuse_groups() or []:
                if isinstance(group, str) or not all(isinstance(n, str) for n in group):
                    raise CompressionError(
                        f"{type(module).__name__}.fuse_groups(): each group must be a list of "
                        f"module names, got {group!r}"
                    )
                groups.append([join(prefix, n) for n in group])
    return groups


# -- traced -----------------------------------------------------------------------------------


def trace(model: nn.Module) -> torch.fx.Graph | None:
    """The model's fx graph (torch.nn modules as leaves), or None when it cannot be traced."""
    try:
        return torch.fx.Tracer().trace(model)
    except Exception:
        return None


def _module_calls(graph: torch.fx.Graph) -> Counter:
    return Counter(n.target for n in graph.nodes if n.op == "call_module")


def _is_add(node: torch.fx.Node) -> bool:
    if node.op == "call_function" and node.target in (operator.add, torch.add):
        return len(node.args) == 2 and not node.kwargs
    return node.op == "call_method" and node.target == "add" and len(node.args) == 2 and (
        not node.kwargs
    )


def _skip_identity(node: Any, modules: dict[str, nn.Module]) -> Any:
    """Walk back through nn.Identity calls (e.g. a BN already folded away)."""
    while (
        isinstance(node, torch.fx.Node)
        and node.op == "call_module"
        and isinstance(modules.get(node.target), nn.Identity)
        and len(node.users) == 1
    ):
        node = node.args[0]
    return node


def traced_pairs(
    model: nn.Module, graph: torch.fx.Graph, input_shape: Sequence[int] | None = None
) -> list[FoldPair]:
    """Conv→BN and (conv + conv + ...)→BN pairs in the traced graph; BNs with any other input
    come back as standalone pairs (no convs)."""
    modules = dict(model.named_modules())
    calls = _module_calls(graph)
    needs_shapes = any(
        n.op == "call_module" and isinstance(modules.get(n.target), LINEAR_TYPES)
        for n in graph.nodes
    ) and any(isinstance(m, _BatchNorm) for m in modules.values())
    shapes = _output_ranks(model, graph, input_shape) if needs_shapes else None
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), _BatchNorm):
            continue
        bn = modules[node.target]
        if calls[node.target] != 1:  # a shared BN is still an Affine, but folds into no conv
            pairs.append(FoldPair(bn=node.target, source="fx"))
            continue
        convs = _conv_sum(node.args[0] if node.args else None, modules, calls, shapes)
        if convs and all(_out_features(modules[c]) == bn.num_features for c in convs):
            pairs.append(FoldPair(bn=node.target, convs=tuple(convs), source="fx"))
        else:
            pairs.append(FoldPair(bn=node.target, source="fx"))
    return pairs


def _conv_sum(
    node: Any, modules: dict[str, nn.Module], calls: Counter, shapes: dict[str, int] | None
) -> list[str] | None:
    """Conv paths whose outputs are summed into ``node``, or None if anything else feeds it."""
    if not isinstance(node, torch.fx.Node) or len(node.users) != 1:
        return None
    if node.op == "call_module":
        module = modules.get(node.target)
        if not isinstance(module, FOLDABLE_TYPES) or calls[node.target] != 1:
            return None
        if isinstance(module, LINEAR_TYPES):
            # BatchNorm1d normalises dim 1, a Linear's features are the last dim: only a 2-D
            # output makes them the same axis. Without shapes the pair is not trusted.
            if shapes is None or shapes.get(node.name) != 2:
                return None
        return [node.target]
    if _is_add(node):
        left = _conv_sum(node.args[0], modules, calls, shapes)
        right = _conv_sum(node.args[1], modules, calls, shapes)
        if left is None or right is None:
            return None
        return left + right
    return None


def _output_ranks(
    model: nn.Module, graph: torch.fx.Graph, input_shape: Sequence[int] | None
) -> dict[str, int] | None:
    """Rank of every node's output on an example input, or None when unknown."""
    if input_shape is None:
        return None
    from torch.fx.passes.shape_prop import ShapeProp

    from ascbench.compressors.base import example_input

    try:
        gm = torch.fx.GraphModule(model, graph)
        was_training = model.training
        gm.eval()
        with torch.no_grad():
            ShapeProp(gm).propagate(example_input(input_shape))
        model.train(was_training)
    except Exception:
        return None
    ranks = {}
    for node in graph.nodes:
        meta = node.meta.get("tensor_meta")
        if meta is not None and hasattr(meta, "shape"):
            ranks[node.name] = len(meta.shape)
    return ranks


def traced_fuse_groups(model: nn.Module, graph: torch.fx.Graph) -> list[list[str]]:
    """conv/linear (→ BN) (→ ReLU) chains, each module called once and feeding only the next."""
    modules = dict(model.named_modules())
    calls = _module_calls(graph)
    groups = []
    for node in graph.nodes:
        if node.op != "call_module" or not isinstance(modules.get(node.target), FOLDABLE_TYPES):
            continue
        if calls[node.target] != 1:
            continue
        head = modules[node.target]
        group = [node.target]
        current = node
        nxt = _next_through_identity(current, modules)
        if (
            nxt is not None
            and isinstance(modules.get(nxt.target), _BatchNorm)
            and calls[nxt.target] == 1
            and modules[nxt.target].num_features == _out_features(head)
            and isinstance(head, CONV_TYPES)
        ):
            group.append(nxt.target)
            current = nxt
            nxt = _next_through_identity(current, modules)
        if nxt is not None and isinstance(modules.get(nxt.target), RELU_TYPES) and (
            calls[nxt.target] == 1
        ):
            group.append(nxt.target)
        if len(group) > 1:
            groups.append(group)
    return groups


def _next_through_identity(
    node: torch.fx.Node, modules: dict[str, nn.Module]
) -> torch.fx.Node | None:
    while True:
        if len(node.users) != 1:
            return None
        (user,) = node.users
        if user.op != "call_module":
            return None
        if isinstance(modules.get(user.target), nn.Identity):
            node = user
            continue
        return user


# -- adjacent in nn.Sequential ------------------------------------------------------------------


def sequential_pairs(model: nn.Module) -> list[FoldPair]:
    """Conv/Linear immediately followed by a matching BN inside an nn.Sequential."""
    pairs = []
    for prefix, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = [(n, c) for n, c in module.named_children() if not isinstance(c, nn.Identity)]
        for (a_name, a), (b_name, b) in zip(children, children[1:], strict=False):
            if (
                isinstance(a, FOLDABLE_TYPES)
                and isinstance(b, _BatchNorm)
                and _out_features(a) == b.num_features
            ):
                pairs.append(
                    FoldPair(bn=join(prefix, b_name), convs=(join(prefix, a_name),),
                             source="sequential")
                )
    return pairs


def sequential_fuse_groups(model: nn.Module) -> list[list[str]]:
    """conv/linear (→ BN) (→ ReLU) runs of consecutive children of an nn.Sequential."""
    groups = []
    for prefix, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = [(n, c) for n, c in module.named_children() if not isinstance(c, nn.Identity)]
        for i, (name, child) in enumerate(children):
            if not isinstance(child, FOLDABLE_TYPES):
                continue
            group = [join(prefix, name)]
            j = i + 1
            if (
                isinstance(child, CONV_TYPES)
                and j < len(children)
                and isinstance(children[j][1], _BatchNorm)
            ):
                group.append(join(prefix, children[j][0]))
                j += 1
            if j < len(children) and isinstance(children[j][1], RELU_TYPES):
                group.append(join(prefix, children[j][0]))
            if len(group) > 1:
                groups.append(group)
    return groups


# -- combined -----------------------------------------------------------------------------------


def find_pairs(
    model: nn.Module,
    *,
    method: Discovery = "auto",
    extra: Iterable[Any] = (),
    input_shape: Sequence[int] | None = None,
) -> tuple[list[FoldPair], list[str]]:
    """Fold pairs of ``model`` and notes on how they were found.

    ``extra`` are pairs given in the compressor parameters (trusted like declared ones).
    ``method``: ``"declared"`` uses only declared/extra pairs, ``"fx"`` adds traced ones
    (error if the model cannot be traced), ``"sequential"`` adds adjacent ones, ``"auto"``
    adds traced ones, or adjacent ones when tracing fails.
    """
    notes: list[str] = []
    pairs = [FoldPair.coerce(p, source="parameters") for p in extra] + declared_pairs(model)
    if method in ("auto", "fx"):
        graph = trace(model)
        if graph is not None:
            found = traced_pairs(model, graph, input_shape)
        elif method == "fx":
            raise CompressionError(
                f"{type(model).__name__} cannot be traced by torch.fx; use discovery "
                "'sequential' or 'declared' and declare pairs with a fold_pairs() method"
            )
        else:
            notes.append("model not traceable by torch.fx: only nn.Sequential neighbours and "
                         "declared pairs were folded")
            found = sequential_pairs(model)
    elif method == "sequential":
        found = sequential_pairs(model)
    else:
        found = []
    taken = {p.bn for p in pairs} | {c for p in pairs for c in p.convs}
    for p in found:
        if p.bn in taken or any(c in taken for c in p.convs):
            continue
        pairs.append(p)
        taken |= {p.bn, *p.convs}
    return pairs, notes


def find_fuse_groups(model: nn.Module) -> list[list[str]]:
    """Eager-mode fusion groups: declared ones, then traced (or adjacent) ones not overlapping."""
    groups = declared_fuse_groups(model)
    graph = trace(model)
    found = traced_fuse_groups(model, graph) if graph is not None else sequential_fuse_groups(model)
    taken = {n for g in groups for n in g}
    for g in found:
        if not taken.intersection(g):
            groups.append(g)
            taken.update(g)
    return groups
