"""Rule sets: the limits of a DCASE task and the convention used to count against them.

A rule set is data. The built-in ones live in ``ascbench/rulesets/*.toml``; a user can pass a
TOML or YAML file of the same shape to ``--rules``, and a plugin can return :class:`RuleSet`
objects from ``register_rulesets``. ``ascbench rules show NAME --json`` prints one, and
:func:`ruleset_json_schema` is the schema a rule-set file must follow.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ascbench.errors import RuleSetError, describe_problem

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Bytes per stored element, by dtype name (torch names; quantized types by their storage).
DTYPE_BYTES: dict[str, int] = {
    "float64": 8,
    "int64": 8,
    "uint64": 8,
    "float32": 4,
    "int32": 4,
    "uint32": 4,
    "qint32": 4,
    "float16": 2,
    "bfloat16": 2,
    "int16": 2,
    "uint16": 2,
    "int8": 1,
    "uint8": 1,
    "qint8": 1,
    "quint8": 1,
    "bool": 1,
}

Quantity = Literal["parameters", "nonzero_parameters", "bytes", "macs"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParameterConvention(_Strict):
    """What counts as a parameter, and how many bytes each one takes."""

    counted_buffers: list[str] = Field(
        default_factory=list,
        description="Buffer names (last path component) counted as parameters, e.g. the batch-norm "
        "running statistics 'running_mean' and 'running_var' that Keras counts as weights.",
    )
    count_zeros: bool = Field(
        description="Whether zero-valued parameters count toward the parameter and byte totals."
    )
    storage_dtype: str | None = Field(
        default=None,
        description="Fixed dtype every counted value is assumed to be stored in (e.g. 'int8' in "
        "DCASE 2022); null means bytes follow each tensor's actual dtype.",
    )
    pruning_masks: Literal["bake"] = Field(
        default="bake",
        description="torch.nn.utils.prune masks are baked in before counting, so pruned "
        "weights count as zeros (the saved model's view).",
    )

    @model_validator(mode="after")
    def _known_dtype(self) -> ParameterConvention:
        if self.storage_dtype is not None and self.storage_dtype not in DTYPE_BYTES:
            raise ValueError(
                f"storage_dtype {self.storage_dtype!r} is not one of {sorted(DTYPE_BYTES)}"
            )
        return self


class MacConvention(_Strict):
    """How multiply-accumulate operations are counted for one inference."""

    name: str = Field(description="Short name of the convention, e.g. 'nessi-torch'.")
    reference: str = Field(description="The official counter this convention reproduces.")
    bias: bool = Field(description="A bias costs one MAC per output element (conv) or per unit.")
    batch_norm: Literal["per_channel", "per_element", "none"] = Field(
        description="'per_channel': 2 MACs per channel (torchinfo); 'per_element': 2 per "
        "activation (fvcore); 'none': folded away."
    )
    linear: Literal["batch_only", "all_leading_dims"] = Field(
        description="'batch_only': a Linear costs (in*out + out) per batch item whatever its "
        "sequence length (torchinfo); 'all_leading_dims': per position."
    )
    pooling: Literal["none", "input_elements"] = Field(
        description="Pooling and upsampling cost nothing ('none') or one MAC per input element."
    )
    batch_size: int = Field(1, ge=1, description="Batch size of the measured inference.")
    model_input: Literal["features"] = Field(
        "features",
        description="MACs are counted on the model input after feature extraction; the frontend "
        "is not counted.",
    )


class CountedForm(_Strict):
    """Which form of the model a rule set counts: before or after layer fusion, and the copy
    MACs are traced on.

    A compressor that folds batch norm into the preceding convolution (``fold_batchnorm``,
    ``int8_static``) changes the counts without changing what the model computes: batch norm's
    2 parameters and 2 MACs per channel become one bias per channel and one MAC per output
    element. The organisers of 2024 count before fusion, those of 2025 count the submitted
    model as it is.
    """

    fusion: Literal["before", "after"] = Field(
        "after",
        description="'after': the deployed model as it is (a folded batch norm counts as the "
        "bias it became); 'before': the model before any layer fusion in its compressor chain "
        "(batch norm as its own layer), stored in the deployed model's precision.",
    )
    macs_traced_on: Literal["float32_copy"] = Field(
        "float32_copy",
        description="MACs are traced on a float32 copy of the counted model (an int8 model: "
        "the float model it was converted from); the precision does not change a MAC count.",
    )


class Limit(_Strict):
    """One limit: a measured quantity must not exceed ``maximum``."""

    quantity: Quantity
    maximum: int = Field(gt=0)
    inclusive: bool = Field(True, description="Whether a value equal to the maximum passes.")
    ambiguous_up_to: int | None = Field(
        None,
        description="Values above maximum and up to this are flagged ambiguous, not failed "
        "outright (e.g. 128 KB read as 131,072 B instead of 128,000 B).",
    )
    text: str = Field("", description="The limit as the task's rules state it.")

    def check(self, value: int) -> LimitCheck:
        ok = value <= self.maximum if self.inclusive else value < self.maximum
        ambiguous = not ok and self.ambiguous_up_to is not None and value <= self.ambiguous_up_to
        status: Literal["pass", "fail", "ambiguous"] = (
            "pass" if ok else ("ambiguous" if ambiguous else "fail")
        )
        return LimitCheck(
            quantity=self.quantity, value=value, maximum=self.maximum, status=status, text=self.text
        )


class LimitCheck(_Strict):
    """The outcome of checking one measured value against one limit; ``device_models``: the
    models a system selects between by recording device, where the rule set allows one
    (:attr:`RuleSet.device_at_inference` false)."""

    quantity: Quantity | Literal["device_models"]
    value: int
    maximum: int
    status: Literal["pass", "fail", "ambiguous"]
    text: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class RuleSet(_Strict):
    """A DCASE task's complexity rules and counting convention, as data."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="Identifier used with --rules.")
    title: str
    task_url: str = ""
    dataset: str = Field(description="Development dataset the task uses.")
    clip_seconds: float = Field(gt=0, description="Length of one input clip at inference.")
    num_classes: int = Field(10, gt=1)
    kilobyte: Literal[1000, 1024] = Field(
        description="How many bytes the rule text's 'KB' means, stated explicitly."
    )
    primary_metric: Literal["log_loss", "accuracy"] = "log_loss"
    parameters: ParameterConvention
    macs: MacConvention
    counted_on: CountedForm = Field(
        default_factory=CountedForm,
        description="Which form of the model is counted (before/after fusion, float32 copy).",
    )
    limits: list[Limit]
    training_splits: list[Literal[5, 10, 25, 50, 100]] = Field(
        default_factory=list,
        description="The DCASE 2024 training splits (percent of the training set, "
        "split_setup/split<N>.csv) a system may be trained on; empty: the whole training split. "
        "With one value it is the default of `ascbench run`.",
    )
    train_split: int | None = Field(
        None, description="Set on the variant of one split (for_split): its percent."
    )
    device_at_inference: bool = Field(
        False,
        description="Whether the recording device is known at inference, so that a system may "
        "select one model per device (DCASE 2025). Where it is not, a system with device-"
        "specific models breaks the rules.",
    )
    notes: list[str] = Field(default_factory=list)
    source: str = Field("", description="Where the rule set came from (file or plugin).")

    def counting_form(self) -> str:
        """One sentence: which form of the model this rule set counts, and what is counted."""
        fusion = (
            "before layer fusion (batch norm counted as its own layer: 2 parameters and 2 MACs "
            "per channel, even where the deployed model folds it)"
            if self.counted_on.fusion == "before"
            else "as deployed, after any layer fusion (a folded batch norm counts as its bias: "
            "1 MAC per output element)"
        )
        buffers = (
            "buffers " + ", ".join(self.parameters.counted_buffers) + " counted"
            if self.parameters.counted_buffers
            else "buffers not counted"
        )
        zeros = "zeros counted" if self.parameters.count_zeros else "non-zero values only"
        storage = (
            f"every value as {self.parameters.storage_dtype}"
            if self.parameters.storage_dtype
            else "bytes by each tensor's dtype"
        )
        return (
            f"counted {fusion}; MACs traced on a float32 copy; {buffers}; {zeros}; {storage}"
        )

    def for_split(self, percent: int) -> RuleSet:
        """The rule set of one training split, ``<name>-split<percent>``: the same limits; each
        split is its own board, as each is a separate result in the challenge."""
        if self.train_split is not None:
            raise RuleSetError(f"rule set '{self.name}' is already the {self.train_split} % split")
        if percent not in self.training_splits:
            allowed = ", ".join(str(p) for p in self.training_splits) or "none"
            raise RuleSetError(
                f"rule set '{self.name}' allows training splits {allowed}, not {percent}; "
                "see `ascbench rules show " + self.name + "`"
            )
        return self.model_copy(
            update={
                "name": f"{self.name}-split{percent}",
                "title": f"{self.title}, {percent} % training split",
                "train_split": percent,
                "notes": [*self.notes, f"Trained on split{percent}.csv ({percent} % split)."],
            }
        )

    def check(self, measured: dict[str, int]) -> list[LimitCheck]:
        """Check measured quantities (keys as in :data:`Quantity`) against every limit."""
        return [limit.check(int(measured[limit.quantity])) for limit in self.limits]


def ruleset_json_schema() -> dict:
    return RuleSet.model_json_schema()


BUILTIN_DIR = Path(__file__).with_name("rulesets")


def load_ruleset_file(path: str | Path) -> RuleSet:
    """Read a rule set from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file."""
    path = Path(path)
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is not part of the text
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise RuleSetError(f"{path}: cannot read rule-set file ({exc.strerror})") from exc
    except UnicodeDecodeError as exc:
        raise RuleSetError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
            "save the rule-set file as UTF-8"
        ) from exc
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
        elif suffix in {".yaml", ".yml"}:
            import yaml

            data = yaml.safe_load(text)
        elif suffix == ".json":
            import json

            data = json.loads(text)
        else:
            raise RuleSetError(
                f"{path}: unknown rule-set file type {suffix!r}; use .toml, .yaml, .yml or .json"
            )
    except RuleSetError:
        raise
    except Exception as exc:  # syntax errors of the three parsers
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RuleSetError(f"{path}: not valid {suffix[1:].upper()}: {first}") from exc
    if not isinstance(data, dict):
        raise RuleSetError(f"{path}: a rule-set file must hold a table/mapping at the top level")
    data.setdefault("source", str(path))
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError(
            f"{path}: invalid rule set {describe_problem(exc)}; "
            "see `ascbench rules schema` for the expected fields"
        ) from exc


def builtin_rulesets() -> list[RuleSet]:
    return [load_ruleset_file(p) for p in sorted(BUILTIN_DIR.glob("*.toml"))]
