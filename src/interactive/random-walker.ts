// The random walker (Grady 2006) on the engine: the probability that a walker starting at each voxel
// first reaches a foreground seed rather than a background seed. Edge weights between 6-neighbours
// are exp(−β (ΔI/σ)²) with σ the intensity spread of the region; the Dirichlet problem L_U x_U = −B x_S
// is solved with Jacobi-preconditioned conjugate gradients, first on a 2× coarser grid whose
// (upsampled) solution starts the full-resolution solve. Runs on CPU or GPU like the rest.
import { F, type Tensor, noGrad, resolveDevice, tensor, tidy, zeros } from "../engine/index.js";

/** Seed codes in a seed volume. */
export const SEED = { none: 0, foreground: 1, background: 2 } as const;

export interface RandomWalkerOptions {
  /** Edge sharpness (Grady's β on intensities normalised by their spread; default 60). */
  beta?: number;
  /** Relative residual to stop at (default 1e-3). */
  tolerance?: number;
  maxIterations?: number;
  /** Coarsen by 2 until a level has at most this many voxels; solve it to tolerance (default 150 000). */
  coarseVoxels?: number;
  /** PCG iterations on each finer level, started from the upsampled coarser solution (default 10). */
  refineIterations?: number;
  /** Levels larger than this are not solved: the coarser solution is upsampled (default 1.5e6). */
  maxSolveVoxels?: number;
  device?: string;
  /** A previous solution to start from (same shape). */
  initial?: Float32Array;
  /**
   * Intensity prior (Grady 2005, random walker with priors): each voxel is also tied to the
   * foreground with weight λ·prior and to the background with λ·(1 − prior). Keeps the problem well
   * conditioned and the answer local far from the seeds.
   */
  prior?: Float32Array;
  /** λ of the prior (default 1e-3): small, so that negative clicks still win over it. */
  priorWeight?: number;
}

export interface RandomWalkerResult {
  probability: Float32Array;
  iterations: number;
  residual: number;
}

/** Edge weights [D-1,H,W], [D,H-1,W], [D,H,W-1] of a [D,H,W] image. */
function edgeWeights(image: Tensor, beta: number): Tensor[] {
  const spread = image.std().item() || 1;
  return [0, 1, 2].map((axis) => {
    const n = image.shape[axis];
    const d = image.narrow(axis, 1, n - 1).sub(image.narrow(axis, 0, n - 1));
    return d.div(spread).square().mul(-beta).exp().clamp(1e-6, null);
  });
}

/** t (one shorter along `axis`) padded with a zero plane after (end "after") or before it. */
function padAlong(t: Tensor, axis: number, end: "after" | "before"): Tensor {
  // pads are (before, after) pairs from the last dimension: axis 2 → index 0.
  const pads = [0, 0, 0, 0, 0, 0];
  pads[2 * (2 - axis) + (end === "after" ? 1 : 0)] = 1;
  return F.pad(t, pads);
}

/** The graph Laplacian applied to x [D,H,W]: Σ over edges w·(x_i − x_j) at both ends. */
function laplacian(x: Tensor, weights: Tensor[]): Tensor {
  let out = x.mul(0);
  weights.forEach((w, axis) => {
    const n = x.shape[axis];
    const flux = w.mul(x.narrow(axis, 0, n - 1).sub(x.narrow(axis, 1, n - 1)));
    out = out.add(padAlong(flux, axis, "after")).sub(padAlong(flux, axis, "before"));
  });
  return out;
}

/** The diagonal of L: Σ w over each voxel's incident edges. */
function degree(weights: Tensor[], shape: readonly number[]): Tensor {
  let out = zeros(shape, { device: weights[0].device });
  weights.forEach((w, axis) => {
    out = out.add(padAlong(w, axis, "after")).add(padAlong(w, axis, "before"));
  });
  return out;
}

/** Preconditioned CG on the unknown voxels; x holds the seeds' values and the start of the unknowns. */
function solve(
  image: Tensor,
  seeds: Tensor,
  start: Tensor,
  prior: Tensor | null,
  o: { beta: number; tolerance: number; maxIterations: number; priorWeight: number },
): { x: Tensor; iterations: number; residual: number } {
  const weights = edgeWeights(image, o.beta);
  const free = seeds.eq(SEED.none).float();
  const fixed = seeds.eq(SEED.foreground).float();
  const lambda = prior ? o.priorWeight : 0;
  // A = L + λI on the free voxels; b = λ·prior − (L x_seeds) there. A·v is not masked: the
  // preconditioner is zero on seeds, so z and p stay zero there and seed rows never enter a dot product.
  const apply = (v: Tensor) => {
    const lv = laplacian(v, weights);
    return lambda ? lv.add(v.mul(lambda)) : lv;
  };
  let x = start.mul(free).add(fixed);
  const inverseDiagonal = degree(weights, image.shape).add(lambda).clamp(1e-12, null).reciprocal().mul(free);
  let b = laplacian(fixed, weights).neg().mul(free);
  if (prior) b = b.add(prior.mul(lambda).mul(free));
  let r = b.sub(apply(x.mul(free)).mul(free));
  // Stop on the preconditioned residual √(rᵀM⁻¹r), relative to the right-hand side's.
  const norm0 = Math.sqrt(b.square().mul(inverseDiagonal).sum().item()) || 1;
  let z = r.mul(inverseDiagonal);
  let p = z;
  let rz = r.mul(z).sum().item();
  let iterations = 0;
  while (iterations < o.maxIterations && Math.sqrt(Math.max(rz, 0)) / norm0 > o.tolerance) {
    const ap = apply(p);
    const alpha = rz / (p.mul(ap).sum().item() || 1e-30);
    x = x.add(p.mul(alpha));
    r = r.sub(ap.mul(alpha));
    z = r.mul(inverseDiagonal);
    const rzNext = r.mul(z).sum().item();
    p = z.add(p.mul(rzNext / (rz || 1e-30)));
    rz = rzNext;
    iterations++;
  }
  return { x: x.clamp(0, 1), iterations, residual: Math.sqrt(Math.max(rz, 0)) / norm0 };
}

/** Half-resolution problem: averaged image; foreground where any fine voxel is, background where all are. */
function coarsen(
  image: Tensor,
  seeds: Tensor,
  prior: Tensor | null,
): { image: Tensor; seeds: Tensor; prior: Tensor | null } {
  const shape = image.shape;
  const small = shape.map((n) => Math.ceil(n / 2));
  const pool = (t: Tensor, max: boolean) =>
    (max ? F.maxPool : F.avgPool)(t.reshape([1, 1, ...shape]), 2, { ceilMode: true }).reshape(small);
  // Background only where every fine voxel is background: a coarse voxel straddling the boundary
  // stays free, so the coarse boundary keeps its intensity edge.
  const fg = pool(seeds.eq(SEED.foreground).float(), true).gt(0);
  const bg = pool(seeds.ne(SEED.background).float(), true).eq(0).logicalAnd(fg.logicalNot());
  return {
    image: pool(image, false),
    prior: prior ? pool(prior, false) : null,
    seeds: fg.to("uint8").mul(SEED.foreground).add(bg.to("uint8").mul(SEED.background)),
  };
}

/**
 * Multilevel solve: the coarsest level (at most `coarseVoxels`) is solved to tolerance; each finer
 * level starts from the upsampled coarser solution and runs at most `refineIterations`.
 */
function solveMultilevel(
  image: Tensor,
  seeds: Tensor,
  start: Tensor | null,
  prior: Tensor | null,
  o: {
    beta: number;
    tolerance: number;
    maxIterations: number;
    coarseVoxels: number;
    refineIterations: number;
    priorWeight: number;
    maxSolveVoxels: number;
  },
): { x: Tensor; iterations: number; residual: number } {
  if (start || image.numel <= o.coarseVoxels || image.shape.some((n) => n < 8))
    return solve(image, seeds, start ?? image.mul(0).add(1), prior, o);
  const coarse = coarsen(image, seeds, prior);
  const c = solveMultilevel(coarse.image, coarse.seeds, null, coarse.prior, o);
  const up = F.interpolate(c.x.reshape([1, 1, ...c.x.shape]), image.shape, "trilinear", false).reshape(image.shape);
  if (image.numel > o.maxSolveVoxels) {
    // Too large to refine interactively: the upsampled solution, with the seeds imposed.
    const fixed = seeds.eq(SEED.foreground).float();
    return { x: up.mul(seeds.eq(SEED.none).float()).add(fixed), iterations: c.iterations, residual: c.residual };
  }
  const fine = solve(image, seeds, up, prior, { ...o, maxIterations: o.refineIterations });
  return { x: fine.x, iterations: c.iterations + fine.iterations, residual: fine.residual };
}

/**
 * Foreground probability per voxel of a [D,H,W] region (x fastest in memory, as volumes are stored:
 * pass shape [nz, ny, nx]). `seeds` holds SEED codes; there must be at least one of each kind.
 */
export function randomWalker(
  image: Float32Array,
  seeds: Uint8Array,
  shape: [number, number, number],
  o: RandomWalkerOptions = {},
): RandomWalkerResult {
  const opts = {
    beta: o.beta ?? 60,
    tolerance: o.tolerance ?? 1e-3,
    maxIterations: o.maxIterations ?? 500,
    coarseVoxels: o.coarseVoxels ?? 150_000,
    refineIterations: o.refineIterations ?? 10,
    priorWeight: o.priorWeight ?? 1e-3,
    maxSolveVoxels: o.maxSolveVoxels ?? 1.5e6,
  };
  let hasForeground = false;
  let hasBackground = false;
  for (const s of seeds) {
    if (s === SEED.foreground) hasForeground = true;
    else if (s === SEED.background) hasBackground = true;
  }
  if (!hasForeground || !hasBackground) {
    // With one kind of seed only, every voxel reaches it.
    return { probability: new Float32Array(image.length).fill(hasForeground ? 1 : 0), iterations: 0, residual: 0 };
  }
  const device = resolveDevice((o.device ?? "cpu") as "cpu");
  return noGrad(() =>
    tidy(() => {
      const img = tensor(image, shape, { device });
      const seedTensor = tensor(seeds, shape, { device });
      const start = o.initial ? tensor(o.initial, shape, { device }) : null;
      const prior = o.prior ? tensor(o.prior, shape, { device }) : null;
      const r = solveMultilevel(img, seedTensor, start, prior, opts);
      return { probability: r.x.to("cpu").data<"float32">(), iterations: r.iterations, residual: r.residual };
    }),
  );
}
