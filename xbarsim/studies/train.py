"""Train the study models with fixed seeds and write their weights (needs PyTorch).

    python -m xbarsim.studies.train [--dataset digits|mnist1d|all] [--only NAME] [--out DIR]
    python -m xbarsim.studies.train --transformers [--seeds 5]   # the transformer-vs-CNN comparison

Every model of every family (``xbarsim.studies.families``) is trained with Adam (learning rate
2e-3, weight decay 1e-4, cosine schedule, batch 64) from seed 0, exported through
``xbarsim.nn.from_torch`` (batch norm folded), checked to classify the test set exactly as
torch does, and saved with its float test accuracy to ``xbarsim/studies/models/<name>.npz``.
The shipped files were written by this script; the studies and CI never need torch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


from ..nn import from_torch
from ..nn.weights import save_model
from .data import DATASETS, load_dataset
from .families import StudyModel, all_models

EPOCHS = {"digits": 60, "mnist1d": 60}


def parse_name(name: str):
    """The :class:`StudyModel` a name like ``digits-d10-w16-k3[-exits]`` denotes, or None."""
    import re

    match = re.fullmatch(r"(digits|mnist1d)-d(\d+)-w(\d+)-k(\d+)(-exits)?", name)
    if not match or (int(match.group(2)) - 2) % 4:
        return None
    return StudyModel(dataset=match.group(1), blocks=(int(match.group(2)) - 2) // 4, width=int(match.group(3)),
                      kernel=int(match.group(4)), exits=bool(match.group(5)))


def build(spec: StudyModel, in_channels: int):
    """The PyTorch module of a study model."""
    import torch
    from torch import nn

    one_d = spec.dataset == "mnist1d"
    Conv = nn.Conv1d if one_d else nn.Conv2d
    Norm = nn.BatchNorm1d if one_d else nn.BatchNorm2d
    Pool = nn.AdaptiveAvgPool1d if one_d else nn.AdaptiveAvgPool2d
    k = spec.kernel

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = Conv(cin, cout, k, stride=stride, padding=k // 2, bias=False)
            self.bn1 = Norm(cout)
            self.relu = nn.ReLU()
            self.conv2 = Conv(cout, cout, k, padding=k // 2, bias=False)
            self.bn2 = Norm(cout)
            self.project = None
            if stride != 1 or cin != cout:
                self.project = Conv(cin, cout, 1, stride=stride, bias=False)
                self.bn_project = Norm(cout)

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            shortcut = self.bn_project(self.project(x)) if self.project is not None else x
            return torch.relu(out + shortcut)

    class Head(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.pool = Pool(1)
            self.fc = nn.Linear(channels, 10)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(x), 1))

    class StudyNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = spec.width
            self.stem = Conv(in_channels, w, k, padding=k // 2, bias=False)
            self.bn = Norm(w)
            self.relu = nn.ReLU()
            self.stage1 = nn.ModuleList([Block(w, w, 1) for _ in range(spec.blocks)])
            self.stage2 = nn.ModuleList([Block(w if i == 0 else 2 * w, 2 * w, 2 if i == 0 else 1)
                                         for i in range(spec.blocks)])
            self.head = Head(2 * w)
            if spec.exits:
                self.exit1 = Head(w)
                self.exit2 = Head(w)

        def forward(self, x):
            h = self.relu(self.bn(self.stem(x)))
            exits = []
            for i, block in enumerate(self.stage1):
                h = block(h)
                if spec.exits and i == 0:
                    exits.append(self.exit1(h))
            if spec.exits:
                exits.append(self.exit2(h))
            for block in self.stage2:
                h = block(h)
            final = self.head(h)
            return tuple(exits) + (final,) if spec.exits else final

    return StudyNet()


def fit(net, data, epochs: int, seed: int = 0) -> float:
    """Train ``net`` on ``data`` with the study recipe (Adam, learning rate 2e-3, weight decay 1e-4,
    cosine schedule, batch 64, batch order from ``seed``); returns the seconds it took. Losses of
    several outputs (exits) are summed."""
    import torch
    from torch import nn

    x_train, y_train = _tensors(data)[0], torch.tensor(data.y_train)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * ((len(x_train) + 63) // 64)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    loss_fn = nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for batch in torch.randperm(len(x_train), generator=order).split(64):
            outputs = net(x_train[batch])
            outputs = outputs if isinstance(outputs, tuple) else (outputs,)
            loss = sum(loss_fn(o, y_train[batch]) for o in outputs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return time.perf_counter() - start


def _tensors(data):
    """Training and test inputs as float32 tensors, (N, C, L) for 1-D signals (as Conv1d wants)."""
    import torch

    x_train = torch.tensor(data.x_train, dtype=torch.float32)
    x_test = torch.tensor(data.x_test, dtype=torch.float32)
    if data.x_train.shape[2] == 1:
        x_train, x_test = x_train[:, :, 0, :], x_test[:, :, 0, :]
    return x_train, x_test


def export(net, data, name: str):
    """``net`` (trained) as an xbarsim model through ``from_torch``, checked to classify the test set
    exactly as torch does: (model, float test accuracy per output, torch's test accuracy per output)."""
    import torch

    x_test = _tensors(data)[1]
    net.eval()
    with torch.no_grad():
        reference = net(x_test)
    reference = reference if isinstance(reference, tuple) else (reference,)
    torch_accuracy = [float((o.argmax(1).numpy() == data.y_test).mean()) for o in reference]
    model = from_torch(net, x_test[:4], name=name)
    exported = model.forward(data.x_test)
    exported = [exported[out] for out in model.outputs] if isinstance(exported, dict) else [exported]
    agree = [float((e.argmax(1) == o.argmax(1).numpy()).mean()) for e, o in zip(exported, reference)]
    if min(agree) < 1.0:
        raise RuntimeError(f"{name}: the exported model disagrees with torch on {1 - min(agree):.2%} of test images")
    return model, [float((e.argmax(1) == data.y_test).mean()) for e in exported], torch_accuracy


def train(spec: StudyModel, out_dir: Path, epochs: int, seed: int = 0) -> dict:
    import torch

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    data = load_dataset(spec.dataset)
    net = build(spec, data.shape[0])
    seconds = fit(net, data, epochs, seed)
    model, accuracies, torch_accuracy = export(net, data, spec.name)
    meta = {"name": spec.name, "dataset": spec.dataset, "blocks": spec.blocks, "width": spec.width,
            "kernel": spec.kernel, "exits": spec.exits, "depth": spec.depth, "epochs": epochs, "seed": seed,
            "float_test_accuracy": accuracies[-1], "float_test_accuracy_per_output": accuracies,
            "torch_test_accuracy": torch_accuracy[-1], "torch_version": torch.__version__,
            "train_seconds": round(seconds, 1), "test_images": int(len(data.y_test)),
            "weights": int(model.network.weights)}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_model(out_dir / f"{spec.name}.npz", model, meta)
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Train the accuracy-study models (needs PyTorch).")
    parser.add_argument("--dataset", choices=DATASETS + ("all",), default="all")
    parser.add_argument("--only", default=None, help="train only the model of this name")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "models"))
    parser.add_argument("--epochs", type=int, default=None, help="override the epochs per dataset")
    parser.add_argument("--transformers", action="store_true",
                        help="train the transformer-vs-CNN comparison (xbarsim.studies.transformer) instead")
    parser.add_argument("--seeds", type=int, default=None, help="with --transformers: seeds 0 .. N-1 (default 5)")
    args = parser.parse_args(argv)
    datasets = DATASETS if args.dataset == "all" else (args.dataset,)
    if args.transformers:
        from .transformer import SEEDS, train_comparison

        for dataset in datasets:
            seeds = range(args.seeds) if args.seeds else SEEDS[dataset]
            train_comparison(Path(args.out), [dataset], seeds, args.epochs or EPOCHS[dataset],
                             say=lambda text: print(text, flush=True))
        return 0
    for dataset in datasets:
        for spec in all_models(dataset):
            if args.only and spec.name != args.only:
                continue
            meta = train(spec, Path(args.out), args.epochs or EPOCHS[dataset])
            print(f"{meta['name']:32s} float test accuracy {meta['float_test_accuracy']:.4f} "
                  f"({meta['weights']:,} weights, {meta['train_seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
