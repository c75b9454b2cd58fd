"""int8 post-training static quantization: ``int8_static``.

Weights become qint8 (per-channel by default) and activations quint8, with scales observed on
calibration batches drawn from the training data (``context.calibration``). Two PyTorch
paths are offered, both present in torch.ao.quantization of torch 2.x (deprecated upstream in
favour of torchao's pt2e, but working on x86 with the fbgemm/x86 engines):

- ``mode: fx`` (default): FX graph mode. Conv(+BN)(+ReLU) and Linear(+ReLU) are fused
  automatically and functional additions/multiplications are quantized too, so residual
  and SE models work without changes. The model must be traceable by torch.fx.
- ``mode: eager``: eager mode, the path Kim et al. describe. The model is wrapped between a
  QuantStub and a DeQuantStub; conv(+BN)(+ReLU) groups are fused (found as in
  :mod:`ascbench.compressors.discovery`). Every op in the forward pass must accept quantized
  tensors: a functional ``x + y`` does not (use ``torch.ao.nn.quantized.FloatFunctional``).

:class:`~ascbench.compressors.fold.Affine` layers and the modules named in ``float_modules``
stay in float32 (dequantized before, quantized after). Their parameters count 4 B each.

The quantized model cannot be traced for MACs; :func:`float_reference` returns the fused
float model it was converted from (not saved; a replayed structure when loaded), which is what
``measure(..., mac_model=...)`` must be given. MAC counts depend on shapes only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Literal

import torch
from pydantic import Field
from torch import nn

from ascbench.compressors.base import (
    CompressionError,
    CompressorBase,
    CompressorParams,
    clone_model,
    example_input,
    get_module,
    note,
    progress,
    quiet_torch_ao,
    set_module,
)
from ascbench.compressors.fold import Affine

_FLOAT_REFERENCE = "_ascbench_float_reference"


def float_reference(model: nn.Module) -> nn.Module | None:
    """The fused float model an int8 model was converted from (for MAC tracing), if any."""
    return model.__dict__.get(_FLOAT_REFERENCE)


def _set_float_reference(model: nn.Module, reference: nn.Module) -> None:
    # Bypass nn.Module.__setattr__: the reference must not become a submodule (its parameters
    # would be counted and saved).
    object.__setattr__(model, _FLOAT_REFERENCE, reference)


def calibration_batches(context: Any, limit: int) -> Iterator[torch.Tensor]:
    """Up to ``limit`` feature batches from ``context.calibration``.

    ``context.calibration`` is an iterable of batches, or a zero-argument callable returning
    one; a batch is a features tensor ``(batch, C, F, T)``, a tuple/list whose first item is
    that tensor, or a mapping with key ``features`` or ``x``.
    """
    source = getattr(context, "calibration", None)
    if callable(source):
        source = source()
    if source is None:
        raise CompressionError(
            "int8_static needs calibration batches from the training data but the compression "
            "context has none; pass CompressionContext(calibration=...)"
        )
    count = 0
    for batch in source:
        if count >= limit:
            break
        yield _features(batch)
        count += 1
    if count == 0:
        raise CompressionError(
            "int8_static: the calibration set yielded no batches; check the training split"
        )


def _features(batch: Any) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], torch.Tensor):
        return batch[0]
    if isinstance(batch, Mapping):
        for key in ("features", "x"):
            if isinstance(batch.get(key), torch.Tensor):
                return batch[key]
    raise CompressionError(
        f"int8_static: a calibration batch is a {type(batch).__name__}; expected a features "
        "tensor, a (features, ...) tuple or a mapping with key 'features'"
    )


def qconfig_for(backend: str, per_channel: bool) -> Any:
    """The torch.ao default static qconfig of ``backend``, optionally per-tensor weights."""
    from torch.ao import quantization as tq

    qconfig = tq.get_default_qconfig(backend)
    if not per_channel:
        qconfig = tq.QConfig(activation=qconfig.activation, weight=tq.default_weight_observer)
    return qconfig


class _FloatIsland(nn.Module):
    """Eager mode: run ``module`` in float32 between a DeQuantStub and a QuantStub."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        from torch.ao.quantization import DeQuantStub, QuantStub

        self.dequant = DeQuantStub()
        self.module = module
        self.quant = QuantStub()
        self.module.qconfig = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.quant(self.module(self.dequant(x)))


class QuantizedEager(nn.Module):
    """Eager-mode int8 model: ``dequant(model(quant(x)))``; takes and returns float tensors."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        from torch.ao.quantization import DeQuantStub, QuantStub

        self.quant = QuantStub()
        self.model = model
        self.dequant = DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dequant(self.model(self.quant(x)))


class _Int8Params(CompressorParams):
    """Parameters shared by ``int8_static`` and ``int8_qat``."""

    backend: Literal["fbgemm", "x86", "qnnpack"] = Field(
        "fbgemm", description="Quantized engine and its default qconfig (fbgemm/x86 on x86 CPUs)."
    )
    calibration_batches: int = Field(
        100, ge=1, description="Training batches run through the observers."
    )
    per_channel: bool = Field(True, description="Per-channel weight scales (else per-tensor).")
    float_modules: list[str] = Field(
        default_factory=list,
        description="Module paths kept in float32 (Affine layers always are).",
    )


class Int8Params(_Int8Params):
    """Parameters of ``int8_static``."""

    mode: Literal["fx", "eager"] = Field(
        "fx", description="FX graph mode (any traceable model) or eager mode (Kim et al.)."
    )
    fuse: bool = Field(
        True, description="Eager mode: fuse conv(+BN)(+ReLU) and linear+ReLU before quantizing."
    )


class Int8Static(CompressorBase):
    """int8 post-training static quantization (torch.ao, FX or eager mode)."""

    name = "int8_static"
    description = (
        "int8 post-training static quantization (torch.ao FX or eager mode, fbgemm/x86), "
        "calibrated on training batches; conv+BN+ReLU fused"
    )
    Params = Int8Params
    config: Int8Params
    accepts = ("float32",)
    makes = "int8"

    def compress(self, model: nn.Module, context: Any) -> nn.Module:
        limit = self.config.calibration_batches
        progress(context, f"int8_static: calibrating on up to {limit} batches")
        batches = list(calibration_batches(context, limit))
        quantized = self._quantize(model, batches)
        note(
            context,
            f"int8 {self.config.mode} mode, {self.config.backend} engine, "
            f"{'per-channel' if self.config.per_channel else 'per-tensor'} weights, calibrated "
            f"on {len(batches)} batch(es) ({sum(len(b) for b in batches)} examples)",
        )
        kept = self._float_names(model)
        if kept:
            note(context, f"kept in float32: {', '.join(kept)}")
        return quantized

    def restructure(self, model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
        return self._quantize(model, [example_input(input_shape)])

    # -- internals ------------------------------------------------------------------------
    def _float_names(self, model: nn.Module) -> list[str]:
        names = list(self.config.float_modules)
        for name in names:
            get_module(model, name, what="float module")
        names += [n for n, m in model.named_modules() if isinstance(m, Affine) and n not in names]
        return names

    def _quantize(self, model: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
        self.check_input(model)
        backend = self.config.backend
        if backend not in torch.backends.quantized.supported_engines:
            raise CompressionError(
                f"int8_static: quantized engine {backend!r} is not available in this torch "
                f"build (available: {torch.backends.quantized.supported_engines})"
            )
        torch.backends.quantized.engine = backend
        model = clone_model(model).eval()
        with quiet_torch_ao():
            if self.config.mode == "fx":
                return self._fx(model, batches)
            return self._eager(model, batches)

    def _fx(self, model: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
        from torch.ao.quantization import QConfigMapping
        from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
        from torch.ao.quantization.quantize_fx import convert_fx, fuse_fx, prepare_fx

        floats = self._float_names(model)
        mapping = QConfigMapping().set_global(qconfig_for(self.config.backend,
                                                          self.config.per_channel))
        custom = PrepareCustomConfig().set_non_traceable_module_classes([Affine])
        for name in floats:
            mapping.set_module_name(name, None)
        custom.set_non_traceable_module_names(floats)
        try:
            reference = fuse_fx(copy.deepcopy(model))
            prepared = prepare_fx(model, mapping, (batches[0],), custom)
        except Exception as exc:
            raise CompressionError(
                f"int8_static (fx): {type(model).__name__} cannot be traced by torch.fx "
                f"({_first_line(exc)}); use mode: eager"
            ) from exc
        with torch.no_grad():
            for batch in batches:
                prepared(batch)
        quantized = convert_fx(prepared)
        self._check_runs(quantized, batches[0], "fx")
        _set_float_reference(quantized, reference.eval())
        return quantized

    def _eager(self, model: nn.Module, batches: list[torch.Tensor]) -> nn.Module:
        from torch.ao import quantization as tq

        from ascbench.compressors.discovery import find_fuse_groups

        if self.config.fuse:
            groups = find_fuse_groups(model)
            if groups:
                try:
                    tq.fuse_modules(model, groups, inplace=True)
                except Exception as exc:
                    raise CompressionError(
                        f"int8_static (eager): cannot fuse {groups}: {_first_line(exc)}; set "
                        "fuse: false or declare fuse_groups() on the model"
                    ) from exc
        reference = copy.deepcopy(model).eval()
        for name in self._float_names(model):
            set_module(model, name, _FloatIsland(get_module(model, name)))
        wrapped = QuantizedEager(model).eval()
        wrapped.qconfig = qconfig_for(self.config.backend, self.config.per_channel)
        tq.prepare(wrapped, inplace=True)
        with torch.no_grad():
            for batch in batches:
                wrapped(batch)
        tq.convert(wrapped, inplace=True)
        self._check_runs(wrapped, batches[0], "eager")
        _set_float_reference(wrapped, reference)
        return wrapped

    @staticmethod
    def _check_runs(model: nn.Module, batch: torch.Tensor, mode: str) -> None:
        try:
            with torch.no_grad():
                model(batch[:1])
        except Exception as exc:
            hint = (
                "use mode: fx, or make the model use FloatFunctional for functional ops"
                if mode == "eager"
                else "keep the failing module in float with float_modules"
            )
            raise CompressionError(
                f"int8_static ({mode}): the quantized model fails on a calibration batch "
                f"({_first_line(exc)}); {hint}"
            ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if len(first) > 160:
        first = first[:157] + "..."
    return f"{type(exc).__name__}: {first}"


class QatParams(_Int8Params):
    """Parameters of ``int8_qat`` (FX graph mode only; the observers are set on
    ``calibration_batches`` before fine-tuning)."""


class Int8QAT(Int8Static):
    """int8 by quantization-aware training (torch.ao FX): conv+BN(+ReLU) fused into QAT modules
    with fake quantization of weights and activations, observers set on calibration batches,
    then fine-tuned with the context's ``finetune`` (the job's training data and recipe; the
    epochs are ``recipe.extra['finetune_epochs']`` under ``--full`` and the same share of the
    training epochs under a shorter budget), and converted to the
    int8 model that is counted and evaluated. Without a ``finetune`` callable (``ascbench
    profile``) it reduces to calibrated post-training quantization and says so."""

    name = "int8_qat"
    description = (
        "int8 by quantization-aware training (torch.ao FX, fbgemm/x86): fake-quantized "
        "fine-tuning, then conversion; conv+BN+ReLU fused"
    )
    Params = QatParams
    config: QatParams

    def compress(self, model: nn.Module, context: Any) -> nn.Module:
        from torch.ao.quantization import QConfigMapping, get_default_qat_qconfig
        from torch.ao.quantization.fx.custom_config import PrepareCustomConfig
        from torch.ao.quantization.quantize_fx import convert_fx, fuse_fx, prepare_qat_fx

        cfg = self.config
        self.check_input(model)
        if cfg.backend not in torch.backends.quantized.supported_engines:
            raise CompressionError(f"int8_qat: quantized engine {cfg.backend!r} is not available")
        torch.backends.quantized.engine = cfg.backend
        batches = list(calibration_batches(context, cfg.calibration_batches))
        model = clone_model(model).eval()
        floats = self._float_names(model)
        qconfig = get_default_qat_qconfig(cfg.backend)
        if not cfg.per_channel:
            from torch.ao.quantization import QConfig, default_fake_quant

            qconfig = QConfig(activation=qconfig.activation, weight=default_fake_quant)
        mapping = QConfigMapping().set_global(qconfig)
        custom = PrepareCustomConfig().set_non_traceable_module_classes([Affine])
        for name in floats:
            mapping.set_module_name(name, None)
        custom.set_non_traceable_module_names(floats)
        with quiet_torch_ao():
            try:
                reference = fuse_fx(copy.deepcopy(model)).eval()
                prepared = prepare_qat_fx(model.train(), mapping, (batches[0],), custom)
            except Exception as exc:
                raise CompressionError(
                    f"int8_qat: {type(model).__name__} cannot be traced by torch.fx "
                    f"({_first_line(exc)}); keep the failing module in float with float_modules"
                ) from exc
            progress(context, f"int8_qat: setting observers on up to {len(batches)} batches")
            prepared.eval()  # batch-norm statistics stay; the fake-quant observers record ranges
            with torch.no_grad():
                for batch in batches:
                    prepared(batch)
            finetune = getattr(context, "finetune", None)
            if callable(finetune):
                progress(context, "int8_qat: quantization-aware fine-tuning")
                prepared = finetune(prepared.train())
                how = "fine-tuned with fake quantization"
            else:
                how = "not fine-tuned (no finetune callable: post-training quantization)"
            quantized = convert_fx(prepared.cpu().eval())
        self._check_runs(quantized, batches[0], "fx")
        _set_float_reference(quantized, reference)
        scales = "per-channel" if cfg.per_channel else "per-tensor"
        note(context, f"int8 QAT, {cfg.backend} engine, {scales} weights; {how}")
        if floats:
            note(context, f"kept in float32: {', '.join(floats)}")
        return quantized

    def restructure(self, model: nn.Module, input_shape: tuple[int, ...]) -> nn.Module:
        """The converted structure is the FX int8 one (loading a saved QAT model)."""
        cfg = self.config
        static = Int8Static(mode="fx", backend=cfg.backend, per_channel=cfg.per_channel,
                            float_modules=cfg.float_modules)  # fmt: skip
        return static.restructure(model, input_shape)
