"""An independent PyTorch training script: the reference that `bench -- twin-train` holds our trainer to.

It reads our preprocessed cache through np.memmap (so both trainers see the same voxels), trains a plain
U-Net of the same widths with a plain recipe (SGD Nesterov 0.99, lr 1e-2 with poly decay per epoch, weight
decay 3e-5, clip 12; CE + soft Dice on the lesion summed over the batch; 1/3 of the patches centred on a
lesion instance; random flips only; no deep supervision; PyTorch's default initialisation), logs the
validation pseudo-Dice per epoch on fixed patches of the held-out cases, predicts the held-out cases
with the final weights (2D: whole slices; 3D: sliding window, step 1/2, plain averaging) and writes each
mask on the original image grid as raw bytes, {case}.mask.u8 (uint8, x fastest) with {case}.mask.json
({"shapeXyz": [...]}); the bench puts them into NIfTI files with the reference's geometry. Nothing here
imports backsplit, and nothing beyond numpy and torch (so it also runs on a GPU machine without nibabel).

BackSplit: with "targets" (a folder of {case}.target.i16, [z, y, x] like the cache's seg) and "classes" K, it
trains on those K-class targets instead of the binary lesion map: CE over all K classes, soft Dice on the lesion
(class 1) only; validation and prediction still read the lesion channel alone.

Usage: train_twin.py CONFIG_JSON   (keys: cache, train, test, dims, patch, batch, features, epochs,
iterations, seed, lr, threads, out, val_iterations, device: "cpu" (default) or "cuda", targets, classes,
lesion_share: the share of lesion-centred patches, default 1/3; background_warmup E: the merged background
(lesion against any background class) for at least E epochs and until validation pseudo-Dice is above 0, then
the split's weight in the CE rising linearly to 1 over E more epochs, as our trainer does, from background
channels tied at the start as ours are; default 0)
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def block(dims, cin, cout, stride):
    conv = nn.Conv3d if dims == 3 else nn.Conv2d
    norm = nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d
    return [conv(cin, cout, 3, stride=stride, padding=1), norm(cout, affine=True, eps=1e-5), nn.LeakyReLU(0.01)]


class UNet(nn.Module):
    def __init__(self, dims, cin, classes, features):
        super().__init__()
        conv_t = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
        conv = nn.Conv3d if dims == 3 else nn.Conv2d
        self.enc = nn.ModuleList()
        for i, f in enumerate(features):
            prev = cin if i == 0 else features[i - 1]
            self.enc.append(nn.Sequential(*block(dims, prev, f, 1 if i == 0 else 2), *block(dims, f, f, 1)))
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for i in range(len(features) - 2, -1, -1):
            self.up.append(conv_t(features[i + 1], features[i], 2, stride=2))
            self.dec.append(nn.Sequential(*block(dims, 2 * features[i], features[i], 1), *block(dims, features[i], features[i], 1)))
        self.head = conv(features[0], classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
        for k, (up, dec) in enumerate(zip(self.up, self.dec)):
            x = dec(torch.cat([up(x), skips[-2 - k]], 1))
        return self.head(x)


class Case:
    def __init__(self, cache, case_id, targets=None):
        with open(os.path.join(cache, case_id + ".json")) as f:
            self.meta = json.load(f)
        self.id = case_id
        self.shape = self.meta["shape"]  # [C, z, y, x]
        self.data = np.memmap(os.path.join(cache, case_id + ".data.f32"), dtype="<f4", mode="r", shape=tuple(self.shape))
        self.seg = np.memmap(os.path.join(cache, case_id + ".seg.i16"), dtype="<i2", mode="r", shape=tuple(self.shape[1:]))
        self.lesions = [l["center"] for l in self.meta["lesions"]]
        # What training fits: the lesion map, or BackSplit's K-class map (lesion still 1).
        self.target = self.seg if targets is None else np.memmap(
            os.path.join(targets, case_id + ".target.i16"), dtype="<i2", mode="r", shape=tuple(self.shape[1:]))


def crop(arr, start, size, spatial_offset):
    """Box [start, start+size) of the last len(size) axes, zero outside the array."""
    out = np.zeros(arr.shape[:spatial_offset] + tuple(size), dtype=arr.dtype)
    src, dst = [slice(None)] * spatial_offset, [slice(None)] * spatial_offset
    for a, (s, n) in enumerate(zip(start, size)):
        dim = arr.shape[spatial_offset + a]
        lo, hi = max(0, s), min(dim, s + n)
        if hi <= lo:
            return out
        src.append(slice(lo, hi))
        dst.append(slice(lo - s, hi - s))
    out[tuple(dst)] = arr[tuple(src)]
    return out


def sample(cases, patch, batch, rng, lesion_share=1 / 3, field="seg"):
    """nnU-Net's policy: the last round(batch * share) slots centred on a lesion instance (uniform), the rest random."""
    instances = [(i, c) for i, case in enumerate(cases) for c in case.lesions]
    lesion_slots = max(1, round(batch * lesion_share)) if instances else 0
    images, targets = [], []
    for slot in range(batch):
        if slot >= batch - lesion_slots:
            ci, center = instances[rng.integers(len(instances))]
            start = [int(c) - p // 2 + int(rng.integers(-(p // 4), p // 4 + 1)) for c, p in zip(center, patch)]
        else:
            ci = int(rng.integers(len(cases)))
            shape = cases[ci].shape[1:]
            start = [int(rng.integers(0, max(1, n - p + 1))) for n, p in zip(shape, patch)]
        case = cases[ci]
        images.append(crop(case.data, start, patch, 1))
        targets.append(crop(getattr(case, field), start, patch, 0))
    return np.stack(images), np.stack(targets)


def loss_fn(logits, target, split=1.0):
    """CE + batch soft Dice on the lesion (class 1). split < 1 (BackSplit's background warm-up): background voxels'
    CE is split * CE(their class) + (1 - split) * CE of "any background class" (-log of the background classes'
    summed probability)."""
    if split < 1 and logits.shape[1] > 2:
        logp = logits.log_softmax(1)
        per_voxel = F.nll_loss(logp, target, reduction="none")
        background = [c for c in range(logits.shape[1]) if c != 1]
        merged = -logp[:, background].logsumexp(1)
        ce = torch.where(target != 1, split * per_voxel + (1 - split) * merged, per_voxel).mean()
    else:
        ce = F.cross_entropy(logits, target)
    probs = logits.softmax(1)[:, 1]
    lesion = (target == 1).float()
    intersection = (probs * lesion).sum()
    dice = (2 * intersection + 1e-5) / (probs.sum() + lesion.sum() + 1e-5).clamp(min=1e-8)
    return ce - dice


def to_net(x, dims):
    """Our cache is [.., z, y, x]; 2D trains on single z-slices."""
    t = torch.from_numpy(x)
    return t[:, :, 0] if dims == 2 else t


def pseudo_dice(net, batches, dims, device):
    tp = fp = fn = 0
    net.eval()
    with torch.no_grad():
        for img, tgt in batches:
            pred = net(to_net(img, dims).to(device)).argmax(1)
            truth = torch.from_numpy(tgt[:, 0] if dims == 2 else tgt).long().to(device) == 1
            tp += int((pred.eq(1) & truth).sum())
            fp += int((pred.eq(1) & ~truth).sum())
            fn += int((pred.ne(1) & truth).sum())
    net.train()
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def predict_case(net, case, dims, patch, device):
    """Sliding window, step half a patch, tiles averaged uniformly; in 2D a window of slices of one voxel.

    2D used to run whole slices through the net: a net trained on patches (instance norm) then predicted far
    less (measured on BraTS enhancing tumour: our models' Dice 0.43 -> 0.07 that way), so both 2D and 3D tile.
    """
    net.eval()
    c, nz, ny, nx = case.shape
    window = [1, *patch] if dims == 2 else list(patch)
    prob = np.zeros((nz, ny, nx), dtype=np.float32)
    count = np.zeros_like(prob)
    starts = []
    for n, p in zip((nz, ny, nx), window):
        step = max(1, p // 2)
        s = list(range(0, max(1, n - p + 1), step))
        if s[-1] != max(0, n - p):
            s.append(max(0, n - p))
        starts.append(s)
    with torch.no_grad():
        for z0 in starts[0]:
            for y0 in starts[1]:
                for x0 in starts[2]:
                    img = crop(case.data, [z0, y0, x0], window, 1)
                    if dims == 2:
                        img = img[:, 0]
                    p = net(torch.from_numpy(img[None]).to(device)).softmax(1)[0, 1].cpu().numpy()
                    if dims == 2:
                        p = p[None]
                    z1, y1, x1 = min(nz, z0 + window[0]), min(ny, y0 + window[1]), min(nx, x0 + window[2])
                    prob[z0:z1, y0:y1, x0:x1] += p[: z1 - z0, : y1 - y0, : x1 - x0]
                    count[z0:z1, y0:y1, x0:x1] += 1
    prob /= np.maximum(count, 1)
    net.train()
    return prob


def write_mask(case, prob, out_prefix):
    o = case.meta["original"]
    if [round(s, 4) for s in o["spacingXyz"]] != [round(s, 4) for s in case.meta["spacing"][::-1]]:
        raise SystemExit(f"{case.id}: the twin handles no resampling (cached spacing differs from the original)")
    box = o["box"]
    full = np.zeros(o["shapeXyz"][::-1], dtype=np.uint8)  # [z, y, x]: C order puts x fastest
    lo = box["start"]
    sl = tuple(slice(l, l + n) for l, n in zip(lo, prob.shape))
    full[sl] = (prob > 0.5).astype(np.uint8)
    full.tofile(out_prefix + ".mask.u8")
    with open(out_prefix + ".mask.json", "w") as f:
        json.dump({"shapeXyz": o["shapeXyz"]}, f)


def main():
    cfg = json.loads(sys.argv[1]) if sys.argv[1].startswith("{") else json.load(open(sys.argv[1]))
    torch.set_num_threads(cfg.get("threads", 2))
    torch.manual_seed(cfg["seed"])
    device = torch.device(cfg.get("device", "cpu"))
    rng = np.random.default_rng(cfg["seed"])
    dims, patch, batch = cfg["dims"], cfg["patch"], cfg["batch"]
    patch3 = [1, *patch] if dims == 2 else patch
    train_cases = [Case(cfg["cache"], i, cfg.get("targets")) for i in cfg["train"]]
    test_cases = [Case(cfg["cache"], i) for i in cfg["test"]]
    channels = train_cases[0].shape[0]
    classes = cfg.get("classes", 2)
    net = UNet(dims, channels, classes, cfg["features"]).to(device)
    if cfg.get("background_warmup", 0) > 0 and classes > 2:
        # Background channels tied (copies of class 0), as our trainer's warm-up starts: under the merged
        # loss they get identical gradients, so the head trains as a binary one until the split begins.
        with torch.no_grad():
            for c in range(2, classes):
                net.head.weight[c].copy_(net.head.weight[0])
                net.head.bias[c].copy_(net.head.bias[0])
    opt = torch.optim.SGD(net.parameters(), lr=cfg["lr"], momentum=0.99, nesterov=True, weight_decay=3e-5)
    val_rng = np.random.default_rng(cfg["seed"] + 7919)
    val = [sample(test_cases, patch3, batch, val_rng) for _ in range(cfg.get("val_iterations", 5))]
    epochs, iterations = cfg["epochs"], cfg["iterations"]
    warmup = cfg.get("background_warmup", 0)
    found_after = None  # epochs trained when validation pseudo-Dice first rose above 0

    def split_weight(step):
        """0 for the first `warmup` epochs and until the lesion is found, then rising linearly to 1 over `warmup` more."""
        if warmup <= 0:
            return 1.0
        if found_after is None:
            return 0.0
        start = max(warmup, found_after) * iterations
        return min(1.0, max(0.0, (step - start) / (warmup * iterations)))

    for epoch in range(epochs):
        started = time.time()
        for g in opt.param_groups:
            g["lr"] = cfg["lr"] * (1 - epoch / epochs) ** 0.9
        total = 0.0
        for iteration in range(iterations):
            img, tgt = sample(train_cases, patch3, batch, rng, cfg.get("lesion_share", 1 / 3), field="target")
            x, t = to_net(img, dims).to(device), torch.from_numpy(tgt[:, 0] if dims == 2 else tgt).long().to(device)
            for axis in range(2, x.ndim):
                if rng.random() < 0.5:
                    x, t = x.flip(axis), t.flip(axis - 1)
            opt.zero_grad()
            loss = loss_fn(net(x), t, split_weight(epoch * iterations + iteration))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
            opt.step()
            total += loss.item()
        dice = pseudo_dice(net, val, dims, device)
        if found_after is None and dice > 0:
            found_after = epoch + 1
        print(json.dumps({"epoch": epoch, "trainLoss": total / iterations, "pseudoDice": dice,
                          "seconds": time.time() - started}), flush=True)
    os.makedirs(cfg["out"], exist_ok=True)
    for case in test_cases:
        prob = predict_case(net, case, dims, patch, device)
        write_mask(case, prob, os.path.join(cfg["out"], case.id))
    print(json.dumps({"done": True}), flush=True)


if __name__ == "__main__":
    main()
