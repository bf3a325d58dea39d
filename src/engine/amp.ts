// Loss scaling for float16 mixed precision (the twin of torch.cuda.amp.GradScaler).
import { stack } from "./create.js";
import type { Optimizer } from "./optim.js";
import { noGrad } from "./runtime.js";
import { tidy } from "./scope.js";
import type { Tensor } from "./tensor.js";

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
  #foundInf = false;

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
    this.#foundInf = noGrad(() =>
      tidy(() => {
        const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
        for (const g of grads) g.mul_(1 / this.scale);
        if (grads.length === 0) return false;
        const finite = stack(grads.map((g) => g.isfinite().all()));
        return !finite.all().item();
      }),
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
    const stepped = !this.#foundInf;
    if (stepped) optimizer.step();
    return stepped;
  }

  /** Adjusts the scale after a step: back off on overflow, grow after growthInterval clean steps. */
  update(): void {
    if (!this.enabled) return;
    if (this.#foundInf) {
      this.scale *= this.#backoff;
      this.#goodSteps = 0;
    } else if (++this.#goodSteps >= this.#interval) {
      this.scale *= this.#growth;
      this.#goodSteps = 0;
    }
    this.#unscaled = false;
    this.#foundInf = false;
  }

  state(): { scale: number; goodSteps: number } {
    return { scale: this.scale, goodSteps: this.#goodSteps };
  }

  loadState(state: { scale: number; goodSteps: number }): void {
    this.scale = state.scale;
    this.#goodSteps = state.goodSteps;
  }
}
