"""Train a small CNN on synthetic digits and log the run to Opsboard through the SDK.

    python examples/train_cnn.py --url http://127.0.0.1:8000 --token $TOKEN [--epochs 1] [--steps N] [--step-delay S]

The URL and token may also come from OPSBOARD_URL and OPSBOARD_TOKEN. The data are generated,
never downloaded: ten fixed 28x28 prototype images (one per class, from a fixed seed), each
sample one of them plus noise and a small random shift, so that the model learns within a few
dozen steps. Every step logs loss, accuracy, learning rate, gradient norm, step time and samples
per second; the script prints one line at the end and nothing else. SIGTERM (or Ctrl-C) ends
the run as failed.

``SmallCNN`` is importable (``from examples.train_cnn import SmallCNN``) without side effects.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from pathlib import Path

import torch
from torch import nn

if not __package__:  # run as a script: make the repository root importable, for monitoring.sdk
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitoring import sdk

IMAGE_SIZE = 28
CLASSES = 10
TRAIN_SAMPLES = 6_000
SEED = 1234


class SmallCNN(nn.Module):
    """Two conv layers, two linear layers: (N, 1, 28, 28) images → (N, 10) logits."""

    def __init__(self, classes: int = CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
            nn.Linear(64, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def prototypes(generator: torch.Generator) -> torch.Tensor:
    """One smooth random 28x28 pattern per class, scaled to [0, 1]."""
    coarse = torch.rand(CLASSES, 1, 7, 7, generator=generator)
    smooth = nn.functional.interpolate(coarse, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)
    return (smooth - smooth.amin(dim=(2, 3), keepdim=True)) / smooth.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)


def synthetic_dataset(samples: int, seed: int = SEED) -> tuple[torch.Tensor, torch.Tensor]:
    """``samples`` noisy, shifted copies of the class prototypes, and their labels."""
    generator = torch.Generator().manual_seed(seed)
    base = prototypes(generator)
    labels = torch.randint(0, CLASSES, (samples,), generator=generator)
    images = base[labels]
    shifts = torch.randint(-2, 3, (samples, 2), generator=generator)
    for dy, dx in torch.unique(shifts, dim=0).tolist():
        chosen = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
        images[chosen] = torch.roll(images[chosen], shifts=(dy, dx), dims=(2, 3))
    images = images + 0.4 * torch.randn(images.shape, generator=generator)
    return images, labels


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("OPSBOARD_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("OPSBOARD_TOKEN"))
    parser.add_argument("--project", default="mnist-synthetic")
    parser.add_argument("--name", default=f"small-cnn-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="train exactly this many steps (overrides --epochs)")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep after each step (demos)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--flush-interval", type=float, default=2.0, help="seconds between the SDK's sends")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("a token is needed: --token or OPSBOARD_TOKEN")
    return args


def total_steps(args: argparse.Namespace) -> int:
    if args.steps is not None:
        return args.steps
    return math.ceil(TRAIN_SAMPLES / args.batch_size) * args.epochs


def train(args: argparse.Namespace, run: sdk.Run) -> tuple[list[float], float]:
    """Train for ``total_steps``; returns the losses and the last step's accuracy."""
    torch.manual_seed(SEED)
    images, labels = synthetic_dataset(TRAIN_SAMPLES)
    model = SmallCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = total_steps(args)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    stats = sdk.TorchStats(model)
    order = torch.randperm(TRAIN_SAMPLES, generator=torch.Generator().manual_seed(SEED + 1))
    losses: list[float] = []
    accuracy = 0.0
    for step in range(steps):
        start = (step * args.batch_size) % TRAIN_SAMPLES
        index = order[start : start + args.batch_size]
        x, y = images[index], labels[index]
        lr = optimizer.param_groups[0]["lr"]
        with stats.step(len(index)) as values:
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
        schedule.step()
        losses.append(loss.item())
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
        run.log({"loss": losses[-1], "accuracy": accuracy, "lr": lr, **values}, step=step)
        if args.step_delay > 0:
            time.sleep(args.step_delay)
    return losses, accuracy


def exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM as an exception, so that the run is marked failed on the way out."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    config = {"model": "SmallCNN", "lr": args.lr, "batch_size": args.batch_size, "steps": total_steps(args)}
    run = sdk.init(args.url, args.token, args.name, args.project, config, flush_interval_s=args.flush_interval)
    try:
        losses, accuracy = train(args, run)
    except BaseException:
        run.finish("failed")
        raise
    run.finish("finished")
    first, last = (sum(losses[:5]) / max(len(losses[:5]), 1), sum(losses[-5:]) / max(len(losses[-5:]), 1))
    print(
        f"run {args.name} ({run.id}): {len(losses)} steps, loss {first:.3f} -> {last:.3f}, "
        f"accuracy {accuracy:.2f}, {run.sent} samples sent, {run.dropped} dropped, status {run.status}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
