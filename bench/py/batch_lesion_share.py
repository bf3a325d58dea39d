"""The lesion's share of the voxels in a training batch, from our preprocessed 2D cache.

usage: /usr/bin/python3 bench/py/batch_lesion_share.py PREPROCESSED/backsplitPlans_2d CASE[,CASE…] [--patch 96]

It follows the sampler's rule (src/train/sampler.ts) closely enough for an order of magnitude: random patches
lie wholly inside a slice; a lesion-centred patch picks a lesion instance (26-connected) uniformly, a point
uniformly in its bounding box, and jitters the patch by up to a quarter of its size; with batch 4 and
nnU-Net's share of 1/3, one patch in four is lesion-centred. The lesion is label 1 of {case}.seg.i16. This
is the number the stalled-run restart's lesion start (STALL_RESTART_PRIOR) is compared with in
docs/results.md §0 ("A 0.1 % restart").
"""

import argparse
import json

import numpy as np
from scipy import ndimage


def load_lesion(folder, case):
    shape = json.load(open(f"{folder}/{case}.json"))["shape"][1:]
    return np.fromfile(f"{folder}/{case}.seg.i16", dtype=np.int16).reshape(shape) == 1


def clamp(start, size, patch):
    return min(max(start, 0), size - patch) if size >= patch else min(max(start, size - patch), 0)


def share(lesions, patch, draws, rng):
    instances = []
    for index, lesion in enumerate(lesions):
        labels, _ = ndimage.label(lesion, structure=np.ones((3, 3, 3)))
        instances += [(index, box) for box in ndimage.find_objects(labels)]

    def fraction(index, z, y, x):
        window = lesions[index][z, max(y, 0) : y + patch, max(x, 0) : x + patch]
        return window.sum() / (patch * patch)

    random, centred = [], []
    for _ in range(draws):
        index = rng.integers(len(lesions))
        depth, height, width = lesions[index].shape
        y = rng.integers(max(1, height - patch + 1))
        x = rng.integers(max(1, width - patch + 1))
        random.append(fraction(index, rng.integers(depth), y, x))
        index, box = instances[rng.integers(len(instances))]
        _, height, width = lesions[index].shape
        point = [rng.integers(axis.start, axis.stop) for axis in box]
        jitter = lambda: round((rng.random() - 0.5) * patch / 2)  # noqa: E731
        y = clamp(point[1] - patch // 2 + jitter(), height, patch)
        x = clamp(point[2] - patch // 2 + jitter(), width, patch)
        centred.append(fraction(index, point[0], y, x))
    return len(instances), float(np.mean(random)), float(np.mean(centred))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("cases")
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    lesions = [load_lesion(args.folder, case) for case in args.cases.split(",")]
    count, random, centred = share(lesions, args.patch, args.draws, np.random.default_rng(0))
    batch = 0.75 * random + 0.25 * centred
    print(json.dumps({"cases": args.cases.split(","), "instances": count, "randomPatch": random,
                      "lesionPatch": centred, "batch": batch}))


if __name__ == "__main__":
    main()
