// nnU-Net's loss: cross-entropy + soft Dice, with deep supervision. Plus BackSplit's marginal
// likelihood for voxels whose background sub-class is unknown: -log Σ_{k ∈ background} p_k.
import { F, type Tensor, tensor, tidy, where } from "../engine/index.js";

export interface LossOptions {
  /** Target classes 0..K-1; which of them are lesion classes (for Dice over lesions only). */
  lesionClasses: number[];
  /** Dice over "all" foreground classes (1..K-1) or over "lesion" classes only. */
  diceOver?: "all" | "lesion";
  /** Class weights for the cross-entropy (length K). */
  classWeights?: number[] | null;
  /** Target value marking voxels to ignore entirely. */
  ignoreValue?: number | null;
  /**
   * Target value marking "some background class, which one unknown": those voxels get the marginal
   * likelihood over `backgroundClasses` and are left out of Dice.
   */
  unknownBackgroundValue?: number | null;
  backgroundClasses?: number[];
  /**
   * BackSplit's background warm-up: the weight w of the split background in the loss. Known background
   * voxels get w · CE(their class) + (1 − w) · (−log Σ_{k ∈ background} p_k), the loss of "some background
   * class" (as binary training sees them), and Dice over "all" weighs the background classes by w. 1 (the
   * default): the plain split loss; 0: the lesion against the background as a whole.
   */
  backgroundSplitWeight?: number;
  diceWeight?: number;
  smooth?: number;
  /**
   * nnU-Net's batch Dice: sum intersection and volumes over the whole batch before the ratio (its 2D
   * choice). Per-sample Dice (false) gives a lesion-free patch a Dice of smooth / (Σp + smooth), which
   * a network maximises by predicting no lesion anywhere: measured on MS 2D patches, that trap left
   * runs at validation Dice 0 for the whole budget (docs/training.md).
   */
  batchDice?: boolean;
  /**
   * Data-parallel training: the global sum of a local statistic (a constant). With it the loss is this
   * rank's share of the whole batch's loss (CE divided by the global voxel count, Dice from global
   * sums): the shares and their gradients add up, over ranks, to one process's loss on the whole batch.
   */
  distributed?: { globalSum: (local: Tensor) => Tensor; worldSize: number };
  /** Deep supervision's coarse targets: nearest downsampling (nnU-Net's, the default) or "lesion-max". */
  deepSupervisionTargets?: "nearest" | "lesion-max";
}

/**
 * nnU-Net's soft Dice over the given classes, negated: per sample and class then averaged, or with
 * `batchDice` per class over the whole batch. probs [N, K, ...], oneHot [N, K, ...], valid [N, 1, ...]
 * (1 where the voxel counts).
 */
export function softDice(
  probs: Tensor,
  oneHot: Tensor,
  valid: Tensor,
  classes: number[],
  smooth = 1e-5,
  batchDice = false,
  distributed?: LossOptions["distributed"],
): Tensor {
  return tidy(() => {
    const dims = [...Array(probs.ndim).keys()].slice(batchDice ? 0 : 2).filter((d) => d !== 1);
    const p = probs.mul(valid);
    const t = oneHot.mul(valid);
    let intersection = p.mul(t).sum(dims);
    let denominator = p.sum(dims).add(t.sum(dims));
    if (distributed && batchDice) {
      // The whole batch's sums, with the gradient flowing through this rank's part only.
      intersection = intersection.add(distributed.globalSum(intersection).sub(intersection.detach()));
      denominator = denominator.add(distributed.globalSum(denominator).sub(denominator.detach()));
    }
    const dice = intersection.mul(2).add(smooth).div(denominator.add(smooth).clamp(1e-8, null));
    const index = tensor(new BigInt64Array(classes.map(BigInt)), [classes.length], { device: probs.device });
    const selected = dice.indexSelect(batchDice ? 0 : 1, index);
    if (!distributed) return selected.mean().neg();
    if (batchDice) {
      // Every rank holds the whole Dice; its share of the value is 1/W, its gradient stays whole.
      const whole = selected.mean();
      return whole.sub(whole.detach().mul(1 - 1 / distributed.worldSize)).neg();
    }
    // Per-sample Dice: this rank's samples over the global sample count.
    const samples = distributed.globalSum(tensor([probs.size(0)], [1], { device: probs.device }));
    return selected.sum().div(samples.mul(classes.length)).neg();
  });
}

/** CE (or marginal NLL) + Dice for one output resolution. logits [N, K, ...], target [N, ...] int64. */
export function segmentationLoss(logits: Tensor, target: Tensor, o: LossOptions): Tensor {
  return tidy(() => {
    const k = logits.size(1);
    const logp = F.logSoftmax(logits.float(), 1);
    const unknown = o.unknownBackgroundValue ?? null;
    const ignore = o.ignoreValue ?? null;
    let valid = target.ge(0);
    if (ignore !== null) valid = valid.logicalAnd(target.ne(ignore));
    const isUnknown = unknown === null ? null : target.eq(unknown);
    const known = isUnknown ? valid.logicalAnd(isUnknown.logicalNot()) : valid;
    // Known voxels: class index (others set to 0 and masked out).
    const safe = where(known, target, 0);
    const weights = o.classWeights ? tensor(o.classWeights, [k], { device: logits.device }) : null;
    let perVoxel = F.nllLoss(logp, safe, { weight: weights, reduction: "none" });
    const voxelWeights = weights ? weights.indexSelect(0, safe.flatten()).reshape(safe.shape) : null;
    const split = o.backgroundSplitWeight ?? 1;
    const backgroundClasses = o.backgroundClasses ?? [];
    // −log Σ_{k ∈ background} p_k: the loss of "some background class, which one not said".
    const anyBackgroundNll = () =>
      logp
        .indexSelect(
          1,
          tensor(new BigInt64Array(backgroundClasses.map(BigInt)), [backgroundClasses.length], {
            device: logits.device,
          }),
        )
        .logsumexp(1)
        .neg();
    if (split < 1 && backgroundClasses.length > 1) {
      const isBackground = backgroundClasses.map((c) => safe.eq(c)).reduce((a, b) => a.logicalOr(b));
      let merged = anyBackgroundNll();
      if (voxelWeights) merged = merged.mul(voxelWeights);
      perVoxel = where(isBackground, perVoxel.mul(split).add(merged.mul(1 - split)), perVoxel);
    }
    let nll = perVoxel.mul(known.float());
    // torch's weighted mean: divide by the summed weights of the counted voxels.
    let count = voxelWeights ? voxelWeights.mul(known.float()).sum() : known.float().sum();
    if (isUnknown && backgroundClasses.length > 0) {
      const marginal = anyBackgroundNll();
      const unknownValid = isUnknown.logicalAnd(valid).float();
      nll = nll.add(marginal.mul(unknownValid));
      count = count.add(unknownValid.sum());
    }
    if (o.distributed) count = o.distributed.globalSum(count);
    const ce = nll.sum().div(count.clamp(1, null));
    const diceClasses = o.diceOver === "lesion" ? o.lesionClasses : [...Array(k).keys()].slice(1);
    if ((o.diceWeight ?? 1) === 0 || diceClasses.length === 0) return ce;
    const probs = logp.exp();
    const oneHot = F.oneHot(safe, k)
      .permute([0, probs.ndim - 1, ...[...Array(probs.ndim - 2).keys()].map((d) => d + 1)])
      .float();
    const valid1 = known.unsqueeze(1).float();
    const diceOf = (classes: number[]) =>
      softDice(probs, oneHot, valid1, classes, o.smooth, o.batchDice, o.distributed);
    const splitClasses = diceClasses.filter((c) => !o.lesionClasses.includes(c));
    const lesions = diceClasses.filter((c) => o.lesionClasses.includes(c));
    let dice: Tensor;
    if (split < 1 && splitClasses.length > 0 && lesions.length > 0) {
      // The mean over classes, each background class weighted by the warm-up's w.
      dice = diceOf(splitClasses).mul(split * splitClasses.length);
      dice = dice.add(diceOf(lesions).mul(lesions.length));
      dice = dice.div(lesions.length + split * splitClasses.length);
    } else dice = diceOf(diceClasses);
    return ce.add(dice.mul(o.diceWeight ?? 1));
  });
}

/** nnU-Net's deep-supervision weights: 1/2^i, the coarsest output dropped, normalised to sum 1. */
export function deepSupervisionWeights(outputs: number): number[] {
  const w = Array.from({ length: outputs }, (_, i) => (i === outputs - 1 && outputs > 1 ? 0 : 1 / 2 ** i));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/**
 * A target [N, ...] downsampled to a coarser output's spatial size: nearest (PyTorch's: voxel k·j of each
 * axis), or with "lesion-max" the highest lesion class of each k-wide block where the block holds one,
 * else nearest. The block of coarse voxel j is voxels k·j … k·j + k − 1, the same voxels nearest reads from.
 */
export function deepSupervisionTarget(
  target: Tensor,
  size: readonly number[],
  mode: "nearest" | "lesion-max" = "nearest",
  lesionClasses: readonly number[] = [],
): Tensor {
  return tidy(() => {
    const nearest = F.interpolate(target.unsqueeze(1).float(), size, "nearest").squeeze(1).long();
    if (mode === "nearest" || lesionClasses.length === 0) return nearest;
    const kernel = size.map((s, d) => target.size(d + 1) / s);
    if (kernel.some((k, d) => !Number.isInteger(k) || k * size[d] !== target.size(d + 1)))
      throw new Error(`lesion-max targets need a whole downsampling factor, got ${target.shape} → ${size}`);
    let lesion = target.mul(0);
    for (const c of lesionClasses) lesion = lesion.add(target.eq(c).long().mul(c));
    const pooled = F.maxPool(lesion.unsqueeze(1).float(), kernel, { stride: kernel }).squeeze(1).long();
    return where(pooled.gt(0), pooled, nearest);
  });
}

/** Deep-supervised loss: targets downsampled to each output's size (deepSupervisionTarget). */
export function deepSupervisionLoss(outputs: Tensor[], target: Tensor, o: LossOptions): Tensor {
  return tidy(() => {
    const weights = deepSupervisionWeights(outputs.length);
    let total: Tensor | null = null;
    outputs.forEach((out, i) => {
      if (weights[i] === 0) return;
      const size = out.shape.slice(2);
      const t = size.every((s, d) => s === target.size(d + 1))
        ? target
        : deepSupervisionTarget(target, size, o.deepSupervisionTargets, o.lesionClasses);
      const l = segmentationLoss(out, t, o).mul(weights[i]);
      total = total ? total.add(l) : l;
    });
    return total!;
  });
}
