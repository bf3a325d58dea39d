"""The lesion's share of the voxels in a training batch, from our preprocessed cache.

usage: /usr/bin/python3 bench/py/batch_lesion_share.py PREPROCESSED/backsplitPlans_2d CASE[,CASE…] [--patch 96]
       /usr/bin/python3 bench/py/batch_lesion_share.py PREPROCESSED/backsplitPlans_3d_fullres CASE[,CASE…] \
         --dims 3 --patch 48 --batch 2

It follows the sampler's rule (src/train/sampler.ts) closely enough for an order of magnitude: random patches
lie wholly inside the volume (2D: inside a slice); a lesion-centred patch picks a lesion instance
(26-connected) uniformly, a point uniformly in its bounding box, and jitters the patch by up to a quarter of
its size; with nnU-Net's share of 1/3, round(batch / 3) patches of a batch (at least one) are lesion-centred:
one of four in 2D, one of two in 3D at batch 2. The lesion is label 1 of {case}.seg.i16. The trainer
counts the same share itself, exactly, at its own draws, when a run stalls (src/train/lesion-share.ts) and
starts the run over at 1 % where it is at least 1 %, else at 0.1 %; this script is an independent check
(docs/results.md §0, "A 0.1 % restart" and "The restart's start from the batches' lesion share").
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


def share(lesions, patch, dims, draws, rng):
    instances = []
    for index, lesion in enumerate(lesions):
        labels, _ = ndimage.label(lesion, structure=np.ones((3, 3, 3)))
        instances += [(index, box) for box in ndimage.find_objects(labels)]
    # 2D patches are one slice thick: the first axis is drawn, the last two are windowed.
    windowed = range(3 - dims, 3)

    def fraction(index, corner):
        window = lesions[index][tuple(slice(max(c, 0), c + (patch if a in windowed else 1)) for a, c in enumerate(corner))]
        return window.sum() / patch**dims

    random, centred = [], []
    for _ in range(draws):
        index = rng.integers(len(lesions))
        shape = lesions[index].shape
        corner = [0, 0, 0]
        for a in [*windowed, *(a for a in range(3) if a not in windowed)]:  # the slice is drawn last
            corner[a] = rng.integers(max(1, shape[a] - patch + 1)) if a in windowed else rng.integers(shape[a])
        random.append(fraction(index, corner))
        index, box = instances[rng.integers(len(instances))]
        shape = lesions[index].shape
        point = [rng.integers(axis.start, axis.stop) for axis in box]
        jitter = lambda: round((rng.random() - 0.5) * patch / 2)  # noqa: E731
        corner = [clamp(p - patch // 2 + jitter(), n, patch) if a in windowed else p
                  for a, (p, n) in enumerate(zip(point, shape))]
        centred.append(fraction(index, corner))
    return len(instances), float(np.mean(random)), float(np.mean(centred))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("cases")
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--dims", type=int, choices=(2, 3), default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    lesions = [load_lesion(args.folder, case) for case in args.cases.split(",")]
    count, random, centred = share(lesions, args.patch, args.dims, args.draws, np.random.default_rng(0))
    lesion_slots = max(1, round(args.batch / 3))
    batch = ((args.batch - lesion_slots) * random + lesion_slots * centred) / args.batch
    print(json.dumps({"cases": args.cases.split(","), "instances": count, "randomPatch": random,
                      "lesionPatch": centred, "batch": batch}))


if __name__ == "__main__":
    main()
