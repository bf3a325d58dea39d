"""Classes present in a label map, named from a classes.json entry: argv = map, classes.json, key fragment."""
import json
import sys

import nibabel as nib
import numpy as np

values = np.unique(np.asarray(nib.load(sys.argv[1]).dataobj)).astype(int).tolist()
table = next(v for k, v in json.load(open(sys.argv[2])).items() if sys.argv[3] in k)
json.dump({table[str(v)]: v for v in values if v != 0}, sys.stdout)
