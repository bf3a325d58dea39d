"""Random walker (Grady 2006) by a direct sparse solve with scipy: 6-neighbour graph, weights
exp(-beta * (dI / sigma)^2) with sigma the image's sample standard deviation (clamped at 1e-6),
Dirichlet problem L_U x_U = -B x_S for the foreground probability."""
import json
import sys

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

req = json.load(sys.stdin)
shape = tuple(req["shape"])  # [D, H, W], C order (W fastest)
img = np.array(req["image"], dtype=np.float64).reshape(shape)
seeds = np.array(req["seeds"], dtype=np.int64).reshape(shape)
beta = req["beta"]
sigma = img.std(ddof=1) or 1.0
n = img.size
idx = np.arange(n).reshape(shape)
rows, cols, vals = [], [], []
for axis in range(3):
    a = np.take(idx, range(shape[axis] - 1), axis=axis).ravel()
    b = np.take(idx, range(1, shape[axis]), axis=axis).ravel()
    d = img.ravel()[b] - img.ravel()[a]
    w = np.maximum(np.exp(-beta * (d / sigma) ** 2), 1e-6)
    rows += [a, b]
    cols += [b, a]
    vals += [-w, -w]
rows = np.concatenate(rows)
cols = np.concatenate(cols)
vals = np.concatenate(vals)
W = coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
L = W - coo_matrix((np.asarray(W.sum(axis=1)).ravel(), (np.arange(n), np.arange(n))), shape=(n, n)).tocsr()
s = seeds.ravel()
free = s == 0
x = (s == 1).astype(np.float64)
Lu = L[free][:, free]
B = L[free][:, ~free]
x[free] = spsolve(Lu.tocsc(), -B @ x[~free])
json.dump({"probability": x.tolist()}, sys.stdout)
