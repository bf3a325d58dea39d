"""torch.optim reference: parameters after a few steps with given gradients (+ LR schedule values)."""
import json
import sys

import torch

req = json.load(sys.stdin)
out = {}
for name, spec in req["runs"].items():
    p = torch.tensor(req["init"], dtype=torch.float32).reshape(req["shape"]).requires_grad_(True)
    if spec["kind"] == "sgd":
        opt = torch.optim.SGD([p], lr=spec["lr"], momentum=spec["momentum"], nesterov=spec["nesterov"], weight_decay=spec["weightDecay"])
    else:
        opt = torch.optim.AdamW([p], lr=spec["lr"], betas=(spec["beta1"], spec["beta2"]), eps=spec["eps"], weight_decay=spec["weightDecay"])
    for k, g in enumerate(req["grads"]):
        for group in opt.param_groups:
            group["lr"] = spec["lrs"][k]
        opt.zero_grad()
        (p * torch.tensor(g, dtype=torch.float32).reshape(req["shape"])).sum().backward()
        opt.step()
    out[name] = p.detach().reshape(-1).tolist()
# clip_grad_norm_ reference
q = torch.tensor(req["init"], dtype=torch.float32).reshape(req["shape"]).requires_grad_(True)
(q * torch.tensor(req["grads"][0]).reshape(req["shape"]) * 10).sum().backward()
total = torch.nn.utils.clip_grad_norm_([q], 1.0)
out["clip"] = {"total": float(total), "grad": q.grad.reshape(-1).tolist()}
json.dump(out, sys.stdout)
