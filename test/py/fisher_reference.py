"""Exact Fisher information of a linear softmax model (a 1x1x1 convolution), by definition with torch
autograd: per voxel, I_Y = sum_y p_y s_y s_y^T and I_Z = sum_z p(z) s_z s_z^T with s the score of
log p(y) or of log p(z) (z = 1{y = lesion}); voxels independent, so the patch Fisher is the sum."""
import json
import sys

import numpy as np
import torch

req = json.load(sys.stdin)
x = torch.tensor(req["x"], dtype=torch.float64)  # [C, V]
W0 = torch.tensor(req["W"], dtype=torch.float64)  # [K, C]
b0 = torch.tensor(req["b"], dtype=torch.float64)  # [K]
lesion = req["lesion"]
K, C = W0.shape
V = x.shape[1]
P = K * C + K


def score(theta, v, kind, value):
    W = theta[: K * C].reshape(K, C)
    b = theta[K * C :]
    logp = torch.log_softmax(W @ x[:, v] + b, 0)
    if kind == "y":
        return logp[value]
    bg = torch.logsumexp(torch.cat([logp[:lesion], logp[lesion + 1 :]]), 0)
    return logp[lesion] if value == 1 else bg


theta = torch.cat([W0.reshape(-1), b0])
IY = torch.zeros(P, P, dtype=torch.float64)
IZ = torch.zeros(P, P, dtype=torch.float64)
gaps = []
for v in range(V):
    p = torch.softmax(W0 @ x[:, v] + b0, 0)
    for y in range(K):
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(score(t, v, "y", y), t)
        IY += p[y] * torch.outer(g, g)
    for z, pz in ((1, p[lesion]), (0, 1 - p[lesion])):
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(score(t, v, "z", z), t)
        IZ += pz * torch.outer(g, g)
w = slice(0, K * C)
b = slice(K * C, P)
diff = (IY - IZ).numpy()
json.dump(
    {
        "traceY": {"weight": float(IY[w, w].trace()), "bias": float(IY[b, b].trace())},
        "traceZ": {"weight": float(IZ[w, w].trace()), "bias": float(IZ[b, b].trace())},
        "minEigenvalueGap": float(np.linalg.eigvalsh((diff + diff.T) / 2).min()),
        "maxEigenvalueGap": float(np.linalg.eigvalsh((diff + diff.T) / 2).max()),
    },
    sys.stdout,
)
