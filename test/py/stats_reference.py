"""scipy references: wilcoxon p-values and a percentile bootstrap CI of the mean."""
import json
import sys

import numpy as np
from scipy import stats
import warnings

warnings.simplefilter("ignore")
req = json.load(sys.stdin)
out = {"wilcoxon": [], "bootstrap": []}
for d in req["wilcoxon"]:
    r = stats.wilcoxon(d)
    out["wilcoxon"].append({"statistic": float(r.statistic), "p": float(r.pvalue)})
for d in req["bootstrap"]:
    r = stats.bootstrap((np.array(d),), np.mean, n_resamples=20000, method="percentile", random_state=0)
    out["bootstrap"].append([float(r.confidence_interval.low), float(r.confidence_interval.high)])
json.dump(out, sys.stdout)
