// Loss scaling for float16 mixed precision (the twin of torch.cuda.amp.GradScaler).
import { full, stack } from "./create.js";
import type { Handle } from "./native.js";
import type { Optimizer } from "./optim.js";
import { noGrad } from "./runtime.js";
import { keep, tidy } from "./scope.js";
import { type Tensor, op } from "./tensor.js";

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  enabled?: boolean;
}

export class GradScaler {
  scale: number;
  readonly enabled: boolean;
  readonly #growth: number;
  readonly #backoff: number;
  readonly #interval: number;
  #goodSteps = 0;
  #unscaled = false;
  #foundInf: Tensor | null = null;
  #overflowed = false;

  constructor(o: GradScalerOptions = {}) {
    this.scale = o.initScale ?? 2 ** 16;
    this.#growth = o.growthFactor ?? 2;
    this.#backoff = o.backoffFactor ?? 0.5;
    this.#interval = o.growthInterval ?? 2000;
    this.enabled = o.enabled ?? true;
  }

  /** loss · scale, to backpropagate instead of the loss. */
  scaleLoss(loss: Tensor): Tensor {
    return this.enabled ? loss.mul(this.scale) : loss.view(loss.shape);
  }

  /** Divides gradients by the scale (call before clipping) and records whether any is non-finite. */
  unscale(params: Tensor[]): void {
    if (!this.enabled || this.#unscaled) return;
    this.#foundInf?.dispose();
    this.#foundInf = keep(
      noGrad(() =>
        tidy(() => {
          const device = params[0]?.device ?? "cpu";
          const invScale = full([1], 1 / this.scale, { device });
          // One fused kernel on CUDA (torch's own _amp_foreach_non_finite_check_and_unscale_).
          if (device.startsWith("cuda"))
            return op("ampUnscale", params.map((p) => p.handle) as Handle[], invScale.handle);
          const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
          for (const g of grads) g.mul_(invScale);
          if (grads.length === 0) return full([1], 0);
          return stack(grads.map((g) => g.isfinite().all()))
            .all()
            .logicalNot()
            .float()
            .reshape([1]);
        }),
      ),
    );
    this.#unscaled = true;
  }

  /** Steps the optimiser unless a gradient overflowed; returns whether it stepped. */
  step(optimizer: Optimizer): boolean {
    if (!this.enabled) {
      optimizer.step();
      return true;
    }
    this.unscale(optimizer.params);
    // The one host-device sync of a step, as in torch's GradScaler.step.
    const stepped = this.#foundInf?.item() === 0;
    this.#overflowed = !stepped;
    if (stepped) optimizer.step();
    return stepped;
  }

  /** Adjusts the scale after a step: back off on overflow, grow after growthInterval clean steps. */
  update(): void {
    if (!this.enabled) return;
    if (this.#overflowed) {
      this.scale *= this.#backoff;
      this.#goodSteps = 0;
    } else if (++this.#goodSteps >= this.#interval) {
      this.scale *= this.#growth;
      this.#goodSteps = 0;
    }
    this.#unscaled = false;
    this.#overflowed = false;
    this.#foundInf?.dispose();
    this.#foundInf = null;
  }

  state(): { scale: number; goodSteps: number } {
    return { scale: this.scale, goodSteps: this.#goodSteps };
  }

  loadState(state: { scale: number; goodSteps: number }): void {
    this.scale = state.scale;
    this.#goodSteps = state.goodSteps;
  }
}
