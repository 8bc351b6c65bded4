"""A small PyTorch training script, tunable by bobench as a function or as a command.

It fits a two-layer network to a noisy sine on CPU in well under a second and reports the
validation loss (docs/your-objective.md walks through tuning it):

- as a function: ``bobench objective=function objective.target=train:objective ...``
  (run from this folder), which calls ``objective(lr=..., hidden=..., epochs=..., seed=...)``;
- as a command: ``bobench objective=command objective.command='python train.py --lr {lr} ...'``,
  which reads the last line this script prints: ``{"value": ..., "train_loss": ...}``.
"""

from __future__ import annotations

import argparse
import json
import os

import torch
from torch import nn


def objective(lr: float, hidden: int = 16, epochs: int = 20, seed: int = 0) -> dict[str, float]:
    """Trains the network; returns the validation MSE as ``value`` and the final training loss."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = torch.linspace(-3.0, 3.0, 256).unsqueeze(1)
    y = torch.sin(x) + 0.1 * torch.randn_like(x)
    order = torch.randperm(len(x))
    train, val = order[:192], order[192:]
    model = nn.Sequential(nn.Linear(1, int(hidden)), nn.Tanh(), nn.Linear(int(hidden), 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=float(lr))
    loss_fn = nn.MSELoss()
    train_loss = float("nan")
    for _ in range(int(epochs)):
        for batch in torch.split(train[torch.randperm(len(train))], 32):
            optimiser.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            train_loss = loss.item()
    with torch.no_grad():
        val_loss = float(loss_fn(model(x[val]), y[val]))
    return {"value": val_loss, "train_loss": train_loss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BOBENCH_SEED", "0")))
    args = parser.parse_args()
    result = objective(args.lr, args.hidden, args.epochs, args.seed)
    print(f"trained {args.epochs} epochs")  # anything may come before the result line
    print(json.dumps(result))


if __name__ == "__main__":
    main()
