"""Cao at the default budget (10 epochs) with its BN momentum 0.01 (Keras default), 0.1 (torch
default) and 0.01 followed by precise BN (statistics recomputed on the training data), on the
default data. Run: python benchmarks/experiments/cao_bn_momentum.py cpu|cuda; results in
benchmarks/results/learning-curves/cao-bn-momentum.json (run on a GPU machine)."""

import json
import multiprocessing as mp
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def precise_bn(model, clips, device):
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [(m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    with torch.no_grad():
        for i in range(0, len(clips), 64):
            x = torch.stack([clips[j][0] for j in range(i, min(i + 64, len(clips)))]).to(device)
            model(x)
    for m, mom in zip(bns, saved, strict=False):
        m.momentum = mom
    model.eval()


def one(args):
    name, variant, epochs, device = args
    import torch

    torch.set_num_threads(1)
    import ascbench_cao2021.model as cm

    cm.BN_MOMENTUM = 0.1 if variant == "bn01" else 0.01
    import learning_curves as lc

    from ascbench.training import trainer

    orig_train = trainer.train

    def patched(model, data, recipe, **kw):
        r = orig_train(model, data, recipe, **kw)
        if variant == "precise":
            precise_bn(model, data, kw.get("device", "cpu"))
        return r

    import ascbench.training as at

    at.train = patched
    rec, _ = lc._curve(name, epochs, 0, device, {}, None)
    return {"system": name, "variant": variant, "final": rec["final"], "last": rec["history"][-1]}


if __name__ == "__main__":
    dev = sys.argv[1]
    work = [
        (n, v, 10, dev)
        for n in ("cao2021_sys1_proposal", "cao2021_sys2_proposal", "cao2021_sys4_proposal")
        for v in ("base", "bn01", "precise")
    ]
    with mp.get_context("spawn").Pool(len(work)) as p:
        res = p.map(one, work)
    for r in res:
        print(
            r["system"],
            r["variant"],
            f"acc {r['final']['accuracy']:.1f} ll {r['final']['log_loss']:.3f} "
            f"classes {r['final']['predicted_classes']}",
        )
    json.dump(res, open(os.environ.get("OUT", "/tmp") + "/cao_exp.json", "w"), indent=1)
