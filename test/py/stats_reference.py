"""scipy references: wilcoxon p-values, a percentile bootstrap CI of the mean and of a paired ratio of means."""
import json
import sys

import numpy as np
from scipy import stats
import warnings

warnings.simplefilter("ignore")
req = json.load(sys.stdin)
out = {"wilcoxon": [], "bootstrap": [], "ratio": []}
for d in req["wilcoxon"]:
    r = stats.wilcoxon(d)
    out["wilcoxon"].append({"statistic": float(r.statistic), "p": float(r.pvalue)})
for d in req["bootstrap"]:
    r = stats.bootstrap((np.array(d),), np.mean, n_resamples=20000, method="percentile", random_state=0)
    out["bootstrap"].append([float(r.confidence_interval.low), float(r.confidence_interval.high)])
for a, b in req.get("ratio", []):
    r = stats.bootstrap(
        (np.array(a), np.array(b)),
        lambda x, y: np.mean(x) / np.mean(y),
        paired=True,
        vectorized=False,
        n_resamples=20000,
        method="percentile",
        random_state=0,
    )
    out["ratio"].append([float(r.confidence_interval.low), float(r.confidence_interval.high)])
json.dump(out, sys.stdout)
