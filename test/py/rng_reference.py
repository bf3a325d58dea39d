"""Seeded random tensors from PyTorch, to check that manualSeed reproduces torch's CPU generator."""
import json
import sys

import torch

req = json.load(sys.stdin)
torch.manual_seed(req["seed"])
a = torch.randn(req["shape"])
b = torch.rand(req["shape"])
c = torch.randint(0, 10, req["shape"])
json.dump({"randn": a.reshape(-1).tolist(), "rand": b.reshape(-1).tolist(), "randint": c.reshape(-1).tolist()}, sys.stdout)
