"""Reference values for test/engine/ops.test.ts, computed by PyTorch.

stdin: {"cases": [{"name", "expr", "inputs": [{"data", "shape", "dtype", "grad"}], "weight": {"data","shape"} | null}]}
stdout: {name: {"out": [...flat], "shape": [...], "grads": [[...flat] | null, ...]}}
Each expr is a Python expression over x0, x1, ... with torch and F in scope. For cases with a
weight w, the gradient is that of sum(out * w) with respect to every input that asks for one.
"""
import json
import sys

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool, "uint8": torch.uint8}


def flat(t):
    if isinstance(t, (tuple, list)):
        t = t[0]
    return t.detach().reshape(-1).double().tolist(), list(t.shape)


def main():
    request = json.load(sys.stdin)
    answers = {}
    for case in request["cases"]:
        xs = []
        for spec in case["inputs"]:
            t = torch.tensor(spec["data"], dtype=torch.float64).to(DTYPES[spec["dtype"]]).reshape(spec["shape"])
            if spec.get("grad"):
                t.requires_grad_(True)
            xs.append(t)
        scope = {"torch": torch, "F": F, **{f"x{i}": x for i, x in enumerate(xs)}}
        out = eval(case["expr"], scope)
        data, shape = flat(out)
        grads = [None] * len(xs)
        if case.get("weight") is not None:
            main_out = out[0] if isinstance(out, (tuple, list)) else out
            w = torch.tensor(case["weight"]["data"], dtype=main_out.dtype).reshape(case["weight"]["shape"])
            (main_out * w).sum().backward()
            grads = [x.grad.reshape(-1).double().tolist() if x.grad is not None else None for x in xs]
        answers[case["name"]] = {"out": data, "shape": shape, "grads": grads}
    json.dump(answers, sys.stdout)


main()
