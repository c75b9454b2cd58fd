"""The SP4ASC checkpoints on real recordings through the ascbench CLI, as a user would run them,
against the authors' own single-pass path; writes ``results/cli-realclips.json`` and the
README block generated from it.

Not a test: it reads the released checkpoints and real recordings from ``../shared``, which
the test suite must not need. Usage (about 4 minutes on 2 cores)::

    python plugins/ascbench-puy2021/scripts/realclips_cli.py --run \
        --weights-dir /work/shared/weights/sp4asc --audio-dir /work/shared/realdata
    python plugins/ascbench-puy2021/scripts/realclips_cli.py --write   # README from the JSON
    python plugins/ascbench-puy2021/scripts/realclips_cli.py --check   # (tests run this)

``--run`` copies the 10-s TAU/TUT clips of ``labels.csv`` (``label_set == tau10``) into a
folder with a labels CSV whose every row is ``split=test`` (nothing is trained), then for each
released checkpoint runs::

    ascbench run --rules dcase2021 --system <system> --weights <checkpoint folder> \
        --tta none|report --data <folder>/labels.csv --no-progress

and compares the predicted class of every clip with the authors' single plain pass
(``check_parity.authors_forward``: the authors' float32 fold, float16 round trip and forward,
re-implemented independently of the plugin) on the same 10 s of audio.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "cli-realclips.json"
README = HERE.parents[2] / "README.md"
BEGIN, END = "<!-- sp4asc-cli:begin -->", "<!-- sp4asc-cli:end -->"


def prepare(audio_dir: Path, out: Path) -> list[tuple[str, str]]:
    """Copy the tau10 clips under ``out`` and write ``out/labels.csv`` (all split=test)."""
    with open(audio_dir / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label_set"] == "tau10"]
    items = []
    for r in rows:
        target = out / r["filename"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio_dir / r["filename"], target)
        items.append((r["filename"], r["scene_label"]))
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["filename", "scene_label", "split"])
        writer.writerows((name, label, "test") for name, label in items)
    return items


def cli_predictions(system: str, weights: Path, labels: Path, tta: str, results: Path) -> dict:
    """Run the CLI; return its wall time, exit code and predicted class per clip."""
    command = [
        "ascbench", "run", "--rules", "dcase2021", "--system", system, "--weights", str(weights),
        "--tta", tta, "--data", str(labels), "--results", str(results), "--no-progress",
        "--jobs", "1",
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    path = results / "dcase2021" / system / "seed0.predictions.csv"
    with open(path, newline="") as f:
        predicted = {r["filename"]: r["scene_label"] for r in csv.DictReader(f, delimiter="\t")}
    shown = (f"ascbench run --rules dcase2021 --system {system} --weights <checkpoint folder> "
             f"--tta {tta} --data <clips>/labels.csv")  # fmt: skip
    return {"command": shown, "seconds": round(seconds, 1), "predicted": predicted}


def authors_predictions(weights_dir: Path, audio_dir: Path, names: list[str]) -> dict:
    """The authors' single plain pass per checkpoint (check_parity's re-implementation)."""
    import torch

    sys.path.insert(0, str(HERE))
    from ascbench_puy2021.plugin import RELEASED_CHECKPOINTS, SP4ASC_PRESET
    from check_parity import authors_fold_and_round_trip, authors_forward, waveforms

    from ascbench.frontends import preset
    from ascbench.scenes import SCENES

    torch.set_num_threads(1)
    with torch.no_grad():
        feats = preset(SP4ASC_PRESET).eval()(waveforms(audio_dir, names))
    out = {}
    for system, folder in RELEASED_CHECKPOINTS.items():
        state = torch.load(weights_dir / folder / "ckpt.pth", map_location="cpu",
                           weights_only=True)["net"]  # fmt: skip
        with torch.no_grad():
            logits = authors_forward(authors_fold_and_round_trip(state), feats.transpose(2, 3))
        out[system] = {n: SCENES[int(k)] for n, k in zip(names, logits.argmax(1), strict=True)}
    return out


def run(weights_dir: Path, audio_dir: Path) -> dict:
    from ascbench_puy2021.plugin import RELEASED_CHECKPOINTS

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clips"
        items = prepare(audio_dir, folder)
        names = [n for n, _ in items]
        labels = dict(items)
        authors = authors_predictions(weights_dir, audio_dir, names)
        systems = {}
        for system, checkpoint in RELEASED_CHECKPOINTS.items():
            row = {"checkpoint": checkpoint}
            for tta in ("none", "report"):
                cli = cli_predictions(system, weights_dir / checkpoint, folder / "labels.csv",
                                      tta, Path(tmp) / f"results-{system}-{tta}")  # fmt: skip
                predicted = [cli["predicted"][n] for n in names]
                row[tta] = {
                    "command": cli["command"],
                    "seconds": cli["seconds"],
                    "correct": sum(p == labels[n] for p, n in zip(predicted, names, strict=True)),
                    "predicted": predicted,
                }
            theirs = [authors[system][n] for n in names]
            row["authors_single_pass"] = {
                "correct": sum(p == labels[n] for p, n in zip(theirs, names, strict=True)),
                "predicted": theirs,
            }
            row["agree_with_authors"] = sum(
                a == b for a, b in zip(row["none"]["predicted"], theirs, strict=True)
            )
            systems[system] = row
    import torch

    return {
        "clips": len(names),
        "files": names,
        "labels": [labels[n] for n in names],
        "torch": torch.__version__,
        "recorded": time.strftime("%Y-%m-%d"),
        "systems": systems,
    }


def block(data: dict) -> str:
    lines = [
        BEGIN,
        "<!-- generated by plugins/ascbench-puy2021/scripts/realclips_cli.py from "
        "plugins/ascbench-puy2021/results/cli-realclips.json; edit those, not this block -->",
        f"The three SP4ASC checkpoints on {data['clips']} real 10-s TAU/TUT recordings (48 kHz "
        "stereo, 24 bit; every row `split=test`), through the CLI exactly as above "
        f"({data['recorded']}, torch {data['torch']}). *Agree* counts clips whose class with "
        "`--tta none` equals the authors' own single plain pass (their fold, float16 round "
        "trip and forward, re-implemented independently of the plugin):",
        "",
        "| system | checkpoint folder | agree with the authors | correct, `--tta none` "
        "| correct, authors' pass | correct, `--tta report` (30 passes) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    n = data["clips"]
    for system, row in data["systems"].items():
        lines.append(
            f"| `{system}` | `{row['checkpoint']}` | {row['agree_with_authors']}/{n} "
            f"| {row['none']['correct']}/{n} | {row['authors_single_pass']['correct']}/{n} "
            f"| {row['report']['correct']}/{n} |"
        )
    lines.append(END)
    return "\n".join(lines)


def rewrite(text: str, data: dict) -> str:
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[:start] + block(data) + text[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--run", action="store_true", help="measure and write the JSON and README")
    mode.add_argument("--write", action="store_true", help="README block from the JSON")
    mode.add_argument("--check", action="store_true", help="exit 1 if the README differs")
    parser.add_argument("--weights-dir", type=Path, default=Path("/work/shared/weights/sp4asc"))
    parser.add_argument("--audio-dir", type=Path, default=Path("/work/shared/realdata"))
    args = parser.parse_args()
    if args.run:
        data = run(args.weights_dir, args.audio_dir)
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    data = json.loads(RESULTS.read_text())
    text = README.read_text()
    new = rewrite(text, data)
    if args.check:
        if new != text:
            print(f"{README}: the {BEGIN} block differs from {RESULTS}; run --write")
            return 1
        return 0
    README.write_text(new)
    print(f"{README}: block rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
