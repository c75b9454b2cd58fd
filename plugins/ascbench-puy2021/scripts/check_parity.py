"""Manual parity check of the plugin against the authors' own test path, on real audio.

Not a test (it reads the released checkpoints and real recordings, which the test suite
must not need). Usage::

    python plugins/ascbench-puy2021/scripts/check_parity.py \
        --weights-dir /work/shared/weights/sp4asc --audio-dir /work/shared/realdata

For every released checkpoint it compares, on every 10-s TAU/TUT clip of ``labels.csv``
(``label_set == tau10``):

- **plugin**: ``sp4asc_cnn(weights=...)`` -> ascbench ``fold_batchnorm(eps=false)`` ->
  ascbench ``fp16`` (the systems' compressor chain), on ascbench ``logmel`` features;
- **authors**: an independent re-implementation of valeoai/SP4ASC's test path, written
  from its steps and not sharing any plugin code: float32 ``merge_conv_bn`` without eps
  (scale into both depthwise kernels, shift as the bias of ``sp_conv2``, BN-mel to an affine
  layer), every tensor cast to float16 and back, and a functional forward pass in the
  upstream layout ``(batch, 1, time, mel)``.

It prints the max absolute logit difference, the predictions of both paths and of the
plugin with 30-pass TTA against the labels, and, for context, how far the exact (eps) fold
and the unfolded float32 network are from the authors' path. It also compares ascbench's
log-mel frontend with librosa's (torchlibrosa-equivalent settings) when librosa is
installed.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from ascbench_puy2021.inference import deploy, predict_proba
from ascbench_puy2021.model import sp4asc_cnn
from ascbench_puy2021.plugin import RELEASED_CHECKPOINTS, SP4ASC_PRESET

from ascbench.data.audio import load_audio
from ascbench.frontends import preset
from ascbench.scenes import SCENES

SAMPLES = 441_000  # upstream keeps the first 10 s at 44.1 kHz


# -- the authors' path, re-implemented independently ---------------------------------------
def authors_fold_and_round_trip(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``merge_conv_bn`` (float32, no eps) then ``.half().float()`` of every tensor."""
    p: dict[str, torch.Tensor] = {}
    scale = state["bn0.weight"] / torch.sqrt(state["bn0.running_var"])
    p["affine.weight"] = scale
    p["affine.bias"] = state["bn0.bias"] - scale * state["bn0.running_mean"]
    for i in range(1, 5):
        pre = f"conv{i}."
        scale = state[pre + "bn.weight"] / torch.sqrt(state[pre + "bn.running_var"])
        p[pre + "ch"] = state[pre + "ch_conv1.weight"].clone()
        p[pre + "sp1"] = state[pre + "sp_conv1.weight"] * scale[:, None, None, None]
        p[pre + "sp2"] = state[pre + "sp_conv2.weight"] * scale[:, None, None, None]
        p[pre + "bias"] = state[pre + "bn.bias"] - scale * state[pre + "bn.running_mean"]
    for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        p[k] = state[k].clone()
    return {k: v.half().float() for k, v in p.items()}


#: Plugin (deployed) state-dict key of each tensor of the authors' folded network.
PLUGIN_KEYS = {
    "affine.weight": "bn0.weight",
    "affine.bias": "bn0.bias",
    **{
        f"conv{i}.{k}": f"conv{i}.{v}"
        for i in range(1, 5)
        for k, v in (
            ("ch", "ch_conv1.weight"),
            ("sp1", "sp_conv1.weight"),
            ("sp2", "sp_conv2.weight"),
            ("bias", "sp_conv2.bias"),
        )
    },
    **{k: k for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")},
}


def authors_forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of upstream-layout log-mels ``(batch, 1, time, mel)`` (eval mode, no TTA)."""
    x = x * p["affine.weight"].view(1, 1, 1, -1) + p["affine.bias"].view(1, 1, 1, -1)
    for i in range(1, 5):
        pre = f"conv{i}."
        c = p[pre + "ch"].shape[0]
        x = F.conv2d(x, p[pre + "ch"])
        x = F.conv2d(x, p[pre + "sp1"], padding=(2, 0), dilation=(2, 1), groups=c) + F.conv2d(
            x, p[pre + "sp2"], p[pre + "bias"], padding=(0, 2), dilation=(1, 2), groups=c
        )
        x = F.avg_pool2d(F.relu(x), 2)
    x = x.mean(dim=3)
    x = torch.max(x, dim=2).values + x.mean(dim=2)
    x = F.relu(F.linear(x, p["fc1.weight"], p["fc1.bias"]))
    return F.linear(x, p["fc2.weight"], p["fc2.bias"])


# -- data ------------------------------------------------------------------------------------
def clips(audio_dir: Path) -> list[tuple[str, str]]:
    with open(audio_dir / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [(r["filename"], r["scene_label"]) for r in rows if r["label_set"] == "tau10"]


def waveforms(audio_dir: Path, names: list[str]) -> torch.Tensor:
    out = []
    for name in names:
        y = load_audio(audio_dir / name, 44100)[:SAMPLES]
        out.append(np.pad(y, (0, SAMPLES - len(y))))
    return torch.from_numpy(np.stack(out))


def librosa_logmel(wave: torch.Tensor) -> torch.Tensor | None:
    """torchlibrosa-equivalent log-mels with librosa, ``(batch, 1, mel, time)``."""
    try:
        import librosa
    except ImportError:
        return None
    fb = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=256, fmin=0.0, fmax=22050.0)
    feats = []
    for y in wave.numpy():
        spec = (
            np.abs(
                librosa.stft(
                    y, n_fft=2048, hop_length=1024, window="hann", center=True, pad_mode="reflect"
                )
            )
            ** 2
        )
        mel = fb @ spec
        feats.append(librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None))
    return torch.from_numpy(np.stack(feats)).float().unsqueeze(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights-dir", type=Path, default=Path("/work/shared/weights/sp4asc"))
    parser.add_argument("--audio-dir", type=Path, default=Path("/work/shared/realdata"))
    parser.add_argument("--tta", type=int, default=30, help="TTA passes (0: skip TTA)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    items = clips(args.audio_dir)
    names, labels = [n for n, _ in items], [lab for _, lab in items]
    start = time.time()
    wave = waveforms(args.audio_dir, names)
    frontend = preset(SP4ASC_PRESET).eval()
    with torch.no_grad():
        feats = frontend(wave)  # (batch, 1, 256, 431)
    print(f"{len(names)} clips, features {tuple(feats.shape)} ({time.time() - start:.1f} s)")
    ref = librosa_logmel(wave)
    if ref is not None:
        print(f"frontend: max |ascbench logmel - librosa| = {(feats - ref).abs().max():.3e} dB")
    upstream_layout = feats.transpose(2, 3)  # (batch, 1, time, mel)

    for system, folder in RELEASED_CHECKPOINTS.items():
        path = args.weights_dir / folder / "ckpt.pth"
        delta_f = 16 if "16_2" in folder else 32
        net = sp4asc_cnn(specaugment=[128, 2, delta_f, 2], weights=str(path)).eval()
        state = torch.load(path, map_location="cpu", weights_only=True)["net"]
        theirs = authors_fold_and_round_trip(state)
        deployed = deploy(net)
        ours = {k.removeprefix("model."): v.float() for k, v in deployed.state_dict().items()}
        flips = {
            k: int((ours[PLUGIN_KEYS[k]] != v).sum())
            for k, v in theirs.items()
            if not torch.equal(ours[PLUGIN_KEYS[k]], v)
        }
        # the plugin's forward pass with the authors' own float16 values
        swapped = deploy(net, fp16=False)
        swapped.load_state_dict({PLUGIN_KEYS[k]: v for k, v in theirs.items()})
        with torch.no_grad():
            authors = authors_forward(theirs, upstream_layout)
            plugin = deployed(feats)
            forward_only = swapped(feats)
            exact = deploy(net, eps=True, fp16=False)(feats)
            unfolded = net(feats)
        tta = predict_proba(deployed, feats, passes=max(args.tta, 1), seed=0)
        print(f"\n== {system} ({folder})")
        print(f"max |logit plugin - authors|      = {(plugin - authors).abs().max():.3e}")
        print(f"float16 values differing from the authors' (float64 vs float32 fold): {flips}")
        print(
            f"max |logit plugin forward with the authors' values - authors| = "
            f"{(forward_only - authors).abs().max():.3e}"
        )
        print(f"max |logit eps-fold fp32 - authors| = {(exact - authors).abs().max():.3e}")
        print(f"max |logit unfolded fp32 - authors| = {(unfolded - authors).abs().max():.3e}")
        print(f"max |logit eps-fold - unfolded|     = {(exact - unfolded).abs().max():.3e}")
        p_plugin, p_authors = plugin.argmax(1), authors.argmax(1)
        p_tta = tta.argmax(1)
        agree = int((p_plugin == p_authors).sum())
        print(f"argmax agreement plugin vs authors: {agree}/{len(names)}")
        for name, label, a, b, c in zip(names, labels, p_plugin, p_authors, p_tta, strict=True):
            short = name.split("/")[-1]
            print(
                f"  {short:42s} label {label:17s} plugin {SCENES[a]:17s} "
                f"authors {SCENES[b]:17s} tta{args.tta} {SCENES[c]}"
            )
        y = torch.tensor([SCENES.index(lab) for lab in labels])
        runs = [("no TTA", F.softmax(plugin, 1))] + ([(f"TTA {args.tta}", tta)] if args.tta else [])
        for tag, probs in runs:
            acc = float((probs.argmax(1) == y).float().mean()) * 100
            ll = float(-torch.log(probs[torch.arange(len(y)), y].clamp_min(1e-15)).mean())
            print(f"  {tag}: accuracy {acc:.1f} % ({len(y)} clips), log loss {ll:.3f}")
    print(f"\ntotal {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
