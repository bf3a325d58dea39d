"""Reference for test/train/loss.test.ts: CE + soft Dice (per sample and class, or with "batch" summed over
the batch as nnU-Net's batch_dice; smooth 1e-5) in PyTorch."""
import json
import sys

import torch
import torch.nn.functional as F

req = json.load(sys.stdin)
logits = torch.tensor(req["logits"]).reshape(req["shape"])
target = torch.tensor(req["target"]).reshape([req["shape"][0], *req["shape"][2:]])
k = logits.shape[1]
logp = F.log_softmax(logits, 1)
ce = F.nll_loss(logp, target)
p = logp.exp()
oh = F.one_hot(target, k).movedim(-1, 1).float()
batch = req.get("batch", False)
dims = (0, *range(2, logits.ndim)) if batch else tuple(range(2, logits.ndim))
inter = (p * oh).sum(dims)
den = p.sum(dims) + oh.sum(dims)
dice = (2 * inter + 1e-5) / (den + 1e-5)
cls = req["classes"]
json.dump({"loss": float(ce - (dice[cls] if batch else dice[:, cls]).mean())}, sys.stdout)
