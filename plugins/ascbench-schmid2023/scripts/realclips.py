#!/usr/bin/env python
"""CP-Mobile's released checkpoint on real recordings: ascbench's path against the authors'.

Cuts the real 10-s TAU/TUT clips of ``--realdata`` (labels.csv, ``label_set=tau10``) into
1-s segments the way TAU 2022 Mobile was made (mono, 44.1 kHz, 24-bit), writes them with a
labels CSV to ``--segments`` (for ``ascbench run --rules dcase2023 --system
schmid2023_cpmobile --weights ... --data <segments>``), then feeds every segment, read and
resampled to 32 kHz by ascbench, to

- ascbench's path: the ``cpmobile`` log-mel preset and the ``cp_mobile`` network, and
- the authors' path restated in plain torch (tests/reference.py: conv1d pre-emphasis, dense
  torch.stft, Kaldi mel banks, log; the network as functions of the checkpoint's tensors),

and writes what agrees to ``results/realclips.json``; ``--readme`` rewrites the plugin
README's ``realclips`` block from that file.

    python plugins/ascbench-schmid2023/scripts/realclips.py --segments /tmp/cpmobile-real
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests"))

from ascbench_schmid2023.cp_mobile import cp_mobile  # noqa: E402
from ascbench_schmid2023.plugin import RELEASED_CHECKPOINT  # noqa: E402
from reference import authors_features, authors_logits  # noqa: E402

from ascbench.checkpoints import read_state_dict  # noqa: E402
from ascbench.data.audio import load_audio  # noqa: E402
from ascbench.frontends.presets import preset  # noqa: E402
from ascbench.scenes import SCENES  # noqa: E402

RESULTS = HERE / "results" / "realclips.json"
README = HERE / "README.md"
#: the first segments of every clip go to the train split: ascbench calibrates int8 on them;
#: nothing is trained with --weights
CALIBRATION_SEGMENTS = 3


def cut_segments(realdata: Path, out: Path) -> list[dict]:
    """Ten 1-s mono 44.1-kHz 24-bit segments per real 10-s clip, and a labels CSV."""
    rows = []
    with open(realdata / "labels.csv", newline="") as f:
        clips = [r for r in csv.DictReader(f) if r["label_set"] == "tau10"]
    for clip in clips:
        audio = load_audio(realdata / clip["filename"], 44100)
        source = Path(clip["filename"])
        for k in range(len(audio) // 44100):
            name = f"{source.parts[0]}/{source.stem}-{k}.wav"
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            sf.write(out / name, audio[k * 44100 : (k + 1) * 44100], 44100, subtype="PCM_24")
            rows.append({
                "filename": name, "scene_label": clip["scene_label"], "device": clip["device"],
                "identifier": f"{source.parts[0]}/{source.stem}",
                "split": "train" if k < CALIBRATION_SEGMENTS else "test",
            })  # fmt: skip
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def measure(weights: Path, segments: Path, rows: list[dict]) -> dict:
    torch.set_num_threads(1)
    model = cp_mobile(weights=str(weights)).eval()
    state = read_state_dict(weights, prefix="model.")
    frontend = preset("cpmobile")
    audio = torch.from_numpy(np.stack([load_audio(segments / r["filename"], 32000) for r in rows]))
    with torch.no_grad():
        ours_x, theirs_x = frontend(audio), authors_features(audio).unsqueeze(1)
        ours, theirs = model(ours_x), authors_logits(state, theirs_x)
        network_only = model(theirs_x)
    labels = torch.tensor([SCENES.index(r["scene_label"]) for r in rows])
    agree = ours.argmax(1) == theirs.argmax(1)
    clips = sorted({r["identifier"] for r in rows})
    clip_of = np.array([clips.index(r["identifier"]) for r in rows])
    clip_correct = {}
    for name, logits in (("ascbench", ours), ("authors", theirs)):
        logp = torch.log_softmax(logits.double(), 1).numpy()
        clip_correct[name] = int(sum(
            logp[clip_of == i].mean(0).argmax() == labels[clip_of == i][0].item()
            for i in range(len(clips))
        ))  # fmt: skip
    return {
        "checkpoint": weights.name,
        "segments": len(rows),
        "clips": len(clips),
        "max_abs_feature_difference": float((ours_x - theirs_x).abs().max()),
        "max_abs_logit_difference": float((ours - theirs).abs().max()),
        "max_abs_logit_difference_same_features": float((network_only - theirs).abs().max()),
        "predicted_labels_agree": int(agree.sum()),
        "segment_accuracy": {
            "ascbench": float((ours.argmax(1) == labels).double().mean()),
            "authors": float((theirs.argmax(1) == labels).double().mean()),
        },
        "clip_correct": clip_correct,
        "torch": torch.__version__,
        "threads": 1,
        "cpu": _cpu(),
    }


def _cpu() -> str:
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def readme_block(r: dict) -> str:
    return "\n".join([
        "<!-- realclips:begin -->",
        "<!-- generated by scripts/realclips.py from results/realclips.json -->",
        f"On {r['segments']} one-second segments of {r['clips']} real 10-s TAU/TUT recordings "
        f"(torch {r['torch']}, {r['threads']} thread, {r['cpu']}), the released checkpoint through "
        "ascbench's frontend and network against the authors' path restated in plain torch:",
        "",
        f"- max |Δ feature| {r['max_abs_feature_difference']:.2e}; max |Δ logit| "
        f"{r['max_abs_logit_difference']:.2e} ({r['max_abs_logit_difference_same_features']:.2e} "
        "on the same features);",
        f"- predicted labels agree on {r['predicted_labels_agree']} of {r['segments']} segments;",
        f"- segment accuracy {100 * r['segment_accuracy']['ascbench']:.1f} % (authors' path "
        f"{100 * r['segment_accuracy']['authors']:.1f} %); clips right by mean segment "
        f"log-probability: {r['clip_correct']['ascbench']} of {r['clips']} "
        f"(authors' path {r['clip_correct']['authors']}).",
        "<!-- realclips:end -->",
    ])  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdata", type=Path, default=Path("/work/shared/realdata"))
    parser.add_argument(
        "--weights", type=Path, default=Path(f"/work/shared/weights/cpmobile/{RELEASED_CHECKPOINT}")
    )
    parser.add_argument("--segments", type=Path, help="folder to write them to")
    parser.add_argument("--readme", action="store_true", help="only rewrite the README block")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the README block differs from results/realclips.json")
    args = parser.parse_args()
    if args.check:
        text = README.read_text()
        block = text.split("<!-- realclips:begin -->", 1)[1].split("<!-- realclips:end -->")[0]
        wanted = readme_block(json.loads(RESULTS.read_text()))
        wanted = wanted.split("<!-- realclips:begin -->", 1)[1].split("<!-- realclips:end -->")[0]
        if block != wanted:
            print(f"{README}: the realclips block is stale; run {Path(__file__).name} --readme")
            return 1
        return 0
    if not args.readme:
        if args.segments is None:
            parser.error("--segments is required to measure")
        rows = cut_segments(args.realdata, args.segments)
        results = measure(args.weights, args.segments, rows)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results, indent=2))
    results = json.loads(RESULTS.read_text())
    text = README.read_text()
    head, rest = text.split("<!-- realclips:begin -->", 1)
    README.write_text(head + readme_block(results) + rest.split("<!-- realclips:end -->", 1)[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
