"""The files of a new plugin package, as :class:`string.Template` texts.

Keys are paths relative to the package directory; both keys and texts may use the
placeholders ``$name`` (plugin and system name), ``$package`` (import name), ``$dist``
(distribution name), ``$model`` (model name) and ``$requirement`` (the dependency on
ascbench). A literal dollar sign is ``$$``. The rendered files must pass ``ruff check`` under
the ``[tool.ruff]`` settings of the rendered ``pyproject.toml`` and their own tests
(``tests/core/test_new_plugin.py`` checks both).
"""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "ascbench plugin: $name"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["$requirement"]

# The entry point ascbench looks for: group "ascbench", plugin name = module with @hookimpl
# functions. `ascbench plugins` shows the plugin under this name.
[project.entry-points.ascbench]
$name = "$package.plugin"

[project.optional-dependencies]
test = ["pytest>=8"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
filterwarnings = [
    "ignore::DeprecationWarning:fvcore.*",
    "ignore::DeprecationWarning:iopath.*",
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning",
]

[tool.ruff]
line-length = 100
target-version = "py310"
src = ["src"]

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP"]
"""

INIT = '''\
"""$dist: an ascbench plugin (models and systems for acoustic scene classification)."""

from $package.models import SmallCNN, small_cnn

__all__ = ["SmallCNN", "small_cnn"]
'''

MODELS_INIT = '''\
"""Model architectures of this plugin, one file per architecture."""

from $package.models.small_cnn import SmallCNN, small_cnn

__all__ = ["SmallCNN", "small_cnn"]
'''

SMALL_CNN = '''\
"""SmallCNN: three blocks of 3x3 convolution, batch norm, ReLU and 2x2 max pooling, then
global average pooling and one linear layer.

Input: the system's features, ``(batch, channels, mels, frames)``; with the
``dcase2022-baseline`` log-mel preset a 1-s clip is ``(batch, 1, 40, 51)``. Output: class
logits ``(batch, num_classes)``; the softmax is left to the loss.

With the default widths (16, 32, 64) it has 24,058 parameters (23,946 once int8
quantization folds the batch norms into the convolutions) and needs about 4.9 M MACs per 1-s
clip, far under the DCASE 2022 limits (128,000 parameters, 30 M MACs): ``ascbench profile
--system $name`` measures it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(
        self,
        num_classes: int = 10,
        input_shape: tuple[int, int, int] = (1, 40, 51),
        channels: Sequence[int] = (16, 32, 64),
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = input_shape[0]
        for width in channels:
            layers += [
                nn.Conv2d(width_in, width, kernel_size=3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            width_in = width
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(width_in, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def small_cnn(
    num_classes: int = 10,
    input_shape: tuple[int, int, int] | list[int] = (1, 40, 51),
    channels: Sequence[int] = (16, 32, 64),
    dropout: float = 0.2,
) -> SmallCNN:
    """Factory registered as model ``$model``.

    ascbench passes ``num_classes`` and ``input_shape`` (one clip's features); the other
    arguments come from the system's ``model.params``.
    """
    return SmallCNN(num_classes, tuple(input_shape), tuple(channels), dropout)
'''

PLUGIN = '''\
"""Hook implementations: the models and systems this plugin adds to ascbench.

ascbench calls each ``register_*`` function once, when it builds its registry, and each
returns a list. The hooks are documented in ``ascbench/hookspecs.py``; names must be unique
across all installed plugins (``ascbench plugins`` lists what is registered).
"""

from __future__ import annotations

from ascbench import ModelEntry, System, hookimpl
from ascbench.systems import ComponentRef, TrainingRecipe

from $package.models import small_cnn

# Features: the DCASE 2022 baseline's 40 log-mel bands with a 20 ms hop, so a 1-s clip
# becomes (1, 40, 51). The other presets are in ascbench/frontends/presets.py; any parameter
# of ascbench.frontends.LogMel can be overridden here, e.g. {"name": ..., "n_mels": 64}.
FRONTEND = ComponentRef(name="logmel-preset", params={"name": "dcase2022-baseline"})


@hookimpl
def register_models():
    return [
        ModelEntry(
            "$model",
            small_cnn,
            "3 blocks of 3x3 conv + BN + ReLU + max-pool, global average pooling, linear",
        )
    ]


@hookimpl
def register_systems():
    return [
        System(
            name="$name",
            title="$name: small CNN on 40 log-mels, int8",
            report="(cite your technical report here)",
            challenge="dcase2022",
            frontend=FRONTEND,
            model=ComponentRef(name="$model", params={"channels": [16, 32, 64]}),
            # `ascbench run` trains by its default budget (10 epochs for a model of 30 M MACs
            # per 1-s clip, fewer for a costlier one, never more than `epochs`) unless
            # --budget or --full is given.
            recipe=TrainingRecipe(epochs=30, batch_size=32, optimizer="adam", lr=1e-3),
            # Applied in order after training; complexity is measured after every stage.
            compressors=[ComponentRef(name="int8_static")],
            # The numbers your report states, shown beside the measured ones on the
            # leaderboard: ascbench.systems.ReportedResults(source=..., accuracy=..., ...).
            reported=None,
            deviations=[],
        )
    ]
'''

TEST = '''\
"""The plugin loads, registers its model and system, and the system fits the DCASE 2022 rules.

Run with ``pytest`` after ``pip install -e .`` (the plugin is found through its entry point).
"""

from __future__ import annotations

import pytest
import torch
from ascbench.build import build_frontend, build_model, feature_shape
from ascbench.plugins import load_registry
from ascbench.profiling import profile_system

SYSTEM = "$name"


@pytest.fixture(scope="module")
def registry():
    registry = load_registry(environment=False)
    registry.raise_on_conflicts()
    return registry


def test_plugin_is_discovered_through_its_entry_point(registry):
    (info,) = [p for p in registry.plugins if p.name == "$name"]
    assert info.ok, info.errors
    assert info.origin == "entry point"
    assert info.registered == {"model": ["$model"], "system": [SYSTEM]}
    assert registry.system(SYSTEM).plugin == "$name"


def test_model_maps_one_clip_of_features_to_logits(registry):
    system = registry.system(SYSTEM)
    ruleset = registry.ruleset("dcase2022")
    shape = feature_shape(registry, system, ruleset)
    assert shape == (1, 40, 51)
    frontend = build_frontend(registry, system)
    audio = torch.randn(2, int(ruleset.clip_seconds * frontend.sample_rate))
    features = frontend(audio)
    assert tuple(features.shape) == (2, *shape)
    model = build_model(registry, system, shape, ruleset.num_classes).eval()
    with torch.no_grad():
        logits = model(features)
    assert tuple(logits.shape) == (2, ruleset.num_classes)
    assert torch.isfinite(logits).all()


def test_system_is_within_the_dcase2022_limits(registry):
    profile = profile_system(registry, registry.system(SYSTEM), registry.ruleset("dcase2022"))
    assert profile.status == "pass", profile.error or profile.complexity.checks
    assert [stage.name for stage in profile.stages] == ["uncompressed", "int8_static"]
    assert profile.complexity.parameters <= 128_000
    assert profile.complexity.macs <= 30_000_000
'''

README = """\
# $dist

An ascbench plugin that adds the model `$model` and the system `$name` (a small CNN on
40 log-mel bands, int8, within the DCASE 2022 Task 1 limits).

```
pip install -e .                               # from this folder
ascbench plugins                               # shows: $name ... systems: $name
ascbench profile --system $name                # parameters, MACs, pass/fail per limit
ascbench run --system $name --budget 1         # train 1 epoch, compress, evaluate
python -m pytest                               # the plugin's own tests
```

| file | what it holds |
|---|---|
| `pyproject.toml` | the package, and the entry point `[project.entry-points.ascbench]` |
| `src/$package/plugin.py` | the hooks `register_models` and `register_systems` |
| `src/$package/models/small_cnn.py` | the model (one file per architecture) |
| `tests/test_plugin.py` | the plugin loads; the model runs; the system fits the rules |

See "Writing a plugin" (`docs/writing-a-plugin.md`) in the ascbench repository for how to
change the model, the features, the training recipe and the compressors, and how to publish.
"""

#: Relative path (a template) -> file text (a template).
FILES: dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "src/$package/__init__.py": INIT,
    "src/$package/plugin.py": PLUGIN,
    "src/$package/models/__init__.py": MODELS_INIT,
    "src/$package/models/small_cnn.py": SMALL_CNN,
    "tests/test_plugin.py": TEST,
}
