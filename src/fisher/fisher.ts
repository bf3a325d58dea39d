// Fisher information of a segmentation network for the split likelihood (Y: lesion or one of the
// background classes) and for the binary likelihood it collapses to (Z = 1{Y is a lesion class},
// p(Z=1|x) = Σ_lesion p_k). Voxels are independent given the image and one patch is one observation,
// so log p(y|x) = Σ_v log p(y_v|x) and the Fisher of a patch is Σ_v J_vᵀ F_v J_v, where J_v = ∂z_v/∂θ
// (z the logits) and F_v the logit-space Fisher.
//
// Monte Carlo estimator: sample y ~ p(·|x) for every voxel, z = 1{y ∈ lesion} (then z ~ p(Z|x)
// exactly, and both estimates share their random numbers), and take ‖∇θ log p(y|x)‖² and
// ‖∇θ log p(z|x)‖²; their expectations are tr I_Y and tr I_Z. Cost per sample: two backward passes
// through the retained graph of one forward pass. With the reference labels instead of samples, the
// same squared norms give the empirical Fisher.
//
// Closed form in logit space (no backward pass): with b = 1 − p_lesion and q the distribution over
// background classes (p_k / b), tr F_Y = 1 − ‖p‖², tr F_Z = p_lesion·b·(1 + ‖q‖²), and their
// difference is b·(1 − ‖q‖²) ≥ 0; it vanishes with a single background class.
import { F, type Module, type Tensor, multinomial, noGrad, stack, tensor, tidy } from "../engine/index.js";
import type { Estimate, FisherSummary } from "./summary.js";

// The result types and their Markdown live in summary.ts (no libtorch: the report reads them).
export type { Estimate, FisherMapSummary, FisherResult, FisherSummary } from "./summary.js";
export { fisherMarkdown } from "./summary.js";

/** Parameter group of a parameter name: encoder stages, decoder stages, the segmentation head. */
export function parameterGroup(name: string): string {
  const top = name.split(".")[0];
  let m = /^(?:encoder|down)(\d+)$/.exec(top);
  if (m) return `encoder ${m[1]}`;
  if (top === "stem" || top === "init") return "encoder 0";
  m = /^(?:decoder|up|upconv)(\d+)$/.exec(top);
  if (m) return `decoder ${m[1]}`;
  if (/^head\d*$/.test(top) || top === "final" || top === "finalnorm") return "head";
  return top;
}

export interface PatchFisher {
  groups: string[];
  /** Parameters per group (only parameters that receive a gradient). */
  parameters: number[];
  /** Per Monte Carlo sample, per group: ‖∇ log p(y)‖² and ‖∇ log p(z)‖². */
  samplesY: number[][];
  samplesZ: number[][];
  /** Per group, with the reference labels (when given). */
  empiricalY: number[] | null;
  empiricalZ: number[] | null;
  /** Logit-space traces summed over the patch's voxels (closed form). */
  logit: { traceY: number; traceZ: number; gap: number; voxels: number };
}

export interface PatchFisherOptions {
  lesionClasses: number[];
  samples: number;
  /** Reference labels [1, ...spatial] (int64) for the empirical Fisher. */
  target?: Tensor;
  /** Voxels to leave out of the empirical likelihood (e.g. ignore / unknown background), [1, ...spatial] bool. */
  exclude?: Tensor;
  groupOf?: (name: string) => string;
}

/** Closed-form logit-space traces per voxel from class probabilities [N, K, ...]. */
export function logitFisherTraces(
  probabilities: Tensor,
  lesionClasses: number[],
): { traceY: Tensor; traceZ: Tensor; gap: Tensor } {
  const k = probabilities.shape[1];
  const lesionMask = Float32Array.from({ length: k }, (_, c) => (lesionClasses.includes(c) ? 1 : 0));
  const broadcast = [1, k, ...probabilities.shape.slice(2).map(() => 1)];
  const isLesion = tensor(lesionMask, broadcast, { device: probabilities.device }).to(probabilities.dtype);
  const pLesion = probabilities.mul(isLesion).sum(1);
  const background = probabilities.mul(isLesion.rsub(1));
  const b = pLesion.rsub(1);
  const bgSquares = background.square().sum(1);
  // ‖q‖² = Σ_bg p_k² / b²; where b is 0 the background is irrelevant (gap 0).
  const qNorm = bgSquares.div(b.square().clamp(1e-30, null));
  const traceY = probabilities.square().sum(1).rsub(1);
  const traceZ = pLesion.mul(b).mul(qNorm.add(1));
  const gap = b.mul(qNorm.rsub(1)).clamp(0, null);
  return { traceY, traceZ, gap };
}

function groupNorms(params: [string, Tensor][], groups: string[], groupOf: (n: string) => string): number[] {
  return tidy(() => {
    const sums = groups.map(() => [] as Tensor[]);
    for (const [name, p] of params) {
      const g = p.grad;
      if (g) sums[groups.indexOf(groupOf(name))].push(g.square().sum());
    }
    return stack(
      sums.map((list) => list.reduce((a, b) => a.add(b))),
      0,
    )
      .to("float64")
      .to("cpu")
      .toArray();
  });
}

/** Fisher estimates for one patch [1, C, ...spatial] (the network in eval mode, no deep supervision). */
export function patchFisher(net: Module, image: Tensor, o: PatchFisherOptions): PatchFisher {
  const groupOf = o.groupOf ?? parameterGroup;
  const params = [...net.namedParameters()];
  for (const [, p] of params) p.zeroGrad();
  return tidy(() => {
    const out = net.forward(image);
    const logits = Array.isArray(out) ? out[0] : out;
    const k = logits.shape[1];
    const logp = F.logSoftmax(logits, 1);
    const background = [...Array(k).keys()].filter((c) => !o.lesionClasses.includes(c));
    const pick = (classes: number[]) =>
      classes.length === 1
        ? logp.select(1, classes[0])
        : stack(
            classes.map((c) => logp.select(1, c)),
            1,
          ).logsumexp(1);
    const logLesion = pick(o.lesionClasses);
    const logBackground = pick(background);
    // Which parameters take part (unused heads get no gradient): find out with one backward pass.
    logLesion.sum().backward(undefined, true);
    const used = params.filter(([, p]) => p.grad !== null);
    const groups = [...new Set(used.map(([n]) => groupOf(n)))];
    const parameters = groups.map((g) => used.filter(([n]) => groupOf(n) === g).reduce((s, [, p]) => s + p.numel, 0));
    const norms = (loss: Tensor): number[] => {
      for (const [, p] of used) p.zeroGrad();
      loss.backward(undefined, true);
      return groupNorms(used, groups, groupOf);
    };
    const spatial = logits.shape.slice(2);
    const channelsLast = [0, ...spatial.map((_, i) => i + 2), 1];
    const flatProbs = noGrad(() => logp.detach().exp().permute(channelsLast).reshape([-1, k]));
    const isLesionOf = (y: Tensor) => o.lesionClasses.map((c) => y.eq(c)).reduce((a, b) => a.logicalOr(b));
    const binaryLogLik = (z: Tensor) => logLesion.mul(z).add(logBackground.mul(z.logicalNot())).sum();
    const samplesY: number[][] = [];
    const samplesZ: number[][] = [];
    for (let s = 0; s < o.samples; s++) {
      const y = multinomial(flatProbs, 1, true).reshape([1, ...spatial]);
      samplesY.push(norms(logp.gather(1, y.unsqueeze(1)).sum()));
      samplesZ.push(norms(binaryLogLik(isLesionOf(y))));
    }
    let empiricalY: number[] | null = null;
    let empiricalZ: number[] | null = null;
    if (o.target) {
      const keepMask = o.exclude ? o.exclude.logicalNot() : null;
      const safeTarget = keepMask ? o.target.mul(keepMask) : o.target;
      const ll = logp.gather(1, safeTarget.unsqueeze(1)).squeeze(1);
      empiricalY = norms(keepMask ? ll.mul(keepMask).sum() : ll.sum());
      const z = isLesionOf(o.target);
      const llZ = logLesion.mul(z).add(logBackground.mul(z.logicalNot()));
      empiricalZ = norms(keepMask ? llZ.mul(keepMask).sum() : llZ.sum());
    }
    const closed = noGrad(() => logitFisherTraces(logp.detach().exp(), o.lesionClasses));
    const logit = {
      traceY: closed.traceY.sum().item(),
      traceZ: closed.traceZ.sum().item(),
      gap: closed.gap.sum().item(),
      voxels: spatial.reduce((a, b) => a * b, 1),
    };
    for (const [, p] of params) p.zeroGrad();
    return { groups, parameters, samplesY, samplesZ, empiricalY, empiricalZ, logit };
  });
}

function sampleCount(p: PatchFisher): number {
  return p.samplesY.length;
}

function estimate(values: number[]): Estimate {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, se: Math.sqrt(variance / n) };
}

/** Per-patch traces averaged over patches (one patch = one observation). */
export function summarizeFisher(patches: PatchFisher[]): FisherSummary {
  if (patches.length === 0) throw new Error("summarizeFisher: no patches");
  const groups = patches[0].groups;
  const samples = patches[0].samplesY.length;
  // Per patch: the Monte Carlo mean; with a single patch the error is the Monte Carlo error.
  const perPatch = (pick: (p: PatchFisher) => number[]): Estimate =>
    patches.length === 1
      ? estimate(pick(patches[0]))
      : estimate(patches.map((p) => pick(p).reduce((a, b) => a + b, 0) / sampleCount(p)));
  const byGroup = (g: number | "total") => {
    const sel = (row: number[]) => (g === "total" ? row.reduce((a, b) => a + b, 0) : row[g]);
    const y = perPatch((p) => p.samplesY.map(sel));
    const z = perPatch((p) => p.samplesZ.map(sel));
    const gap = perPatch((p) => p.samplesY.map((row, s) => sel(row) - sel(p.samplesZ[s])));
    const hasEmpirical = patches.every((p) => p.empiricalY);
    return {
      traceY: y,
      traceZ: z,
      gap,
      empiricalY: hasEmpirical ? estimate(patches.map((p) => sel(p.empiricalY!))) : null,
      empiricalZ: hasEmpirical ? estimate(patches.map((p) => sel(p.empiricalZ!))) : null,
    };
  };
  const voxels = patches.reduce((s, p) => s + p.logit.voxels, 0);
  return {
    patches: patches.length,
    samplesPerPatch: samples,
    groups: groups.map((group, g) => ({ group, parameters: patches[0].parameters[g], ...byGroup(g) })),
    total: byGroup("total"),
    logitPerVoxel: {
      traceY: patches.reduce((s, p) => s + p.logit.traceY, 0) / voxels,
      traceZ: patches.reduce((s, p) => s + p.logit.traceZ, 0) / voxels,
      gap: patches.reduce((s, p) => s + p.logit.gap, 0) / voxels,
    },
  };
}
