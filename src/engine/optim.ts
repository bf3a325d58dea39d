// Optimisers (libtorch's torch::optim), learning-rate schedules and gradient clipping.
import { type Handle, type OptimizerHandle, native } from "./native.js";
import { type Tensor, op } from "./tensor.js";

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
}

export class Optimizer {
  #handle: OptimizerHandle | null;
  #lr: number;

  private constructor(
    kind: "sgd" | "adamw",
    readonly params: Tensor[],
    options: SgdOptions | AdamWOptions,
  ) {
    const numeric: Record<string, number | boolean> = {};
    for (const [k, v] of Object.entries(options)) if (v !== undefined) numeric[k] = v as number | boolean;
    this.#handle = native.optimCreate(kind, params.map((p) => p.handle) as Handle[], numeric) as OptimizerHandle;
    this.#lr = options.lr;
  }

  /** SGD, with Nesterov momentum when asked (nnU-Net: lr 1e-2, momentum 0.99, nesterov, weight decay 3e-5). */
  static sgd(params: Tensor[], options: SgdOptions): Optimizer {
    return new Optimizer("sgd", params, options);
  }

  static adamw(params: Tensor[], options: AdamWOptions): Optimizer {
    return new Optimizer("adamw", params, options);
  }

  private get handle(): OptimizerHandle {
    if (!this.#handle) throw new Error("optimizer was disposed");
    return this.#handle;
  }

  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    native.optimSetLr(this.handle, value);
    this.#lr = value;
  }

  step(): void {
    native.optimStep(this.handle);
  }

  /** Sets every gradient to none (undefined), so the next backward starts fresh. */
  zeroGrad(): void {
    native.optimZeroGrad(this.handle);
  }

  /** The optimiser's state (momentum buffers, step counts) as bytes, for checkpoints. */
  stateBytes(): Buffer {
    return native.optimSave(this.handle) as Buffer;
  }

  loadStateBytes(bytes: Buffer): void {
    native.optimLoad(this.handle, bytes);
  }

  dispose(): void {
    if (this.#handle) native.optimDispose(this.#handle);
    this.#handle = null;
  }
}

// ---- learning-rate schedules: step (0-based) → learning rate ----

export type Schedule = (step: number) => number;

/** nnU-Net's polynomial decay: lr · (1 − step/total)^exponent. */
export function polyLr(initial: number, totalSteps: number, exponent = 0.9): Schedule {
  return (step) => initial * (1 - Math.min(step, totalSteps) / totalSteps) ** exponent;
}

/** Cosine decay from initial to minimum over totalSteps. */
export function cosineLr(initial: number, totalSteps: number, minimum = 0): Schedule {
  return (step) =>
    minimum + 0.5 * (initial - minimum) * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / totalSteps));
}

/** Linear warm-up over warmupSteps, then the wrapped schedule (shifted to start at 0). */
export function withWarmup(schedule: Schedule, warmupSteps: number): Schedule {
  return (step) => (step < warmupSteps ? (schedule(0) * (step + 1)) / warmupSteps : schedule(step - warmupSteps));
}

/**
 * Scales gradients in place so that their global L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_).
 * Returns the norm before clipping as a 0-d float32 tensor: it stays on the device, so clipping
 * does not wait for the GPU (call .item() only when you log it). One native call: multi-tensor
 * kernels on libtorch 2.x, a loop on 1.13.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  return op("clipGradNorm", params.map((p) => p.handle) as Handle[], maxNorm);
}
