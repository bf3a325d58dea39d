// A small module system: parameters, buffers, submodules, train/eval, state dicts.
import { noGrad } from "../runtime.js";
import { keep } from "../scope.js";
import type { DType, Device, Tensor } from "../tensor.js";

export abstract class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor | Tensor[];

  /** Registers a trainable tensor (it is kept out of tidy scopes and requires grad). */
  protected param(name: string, value: Tensor): Tensor {
    keep(value).requiresGrad_(true);
    this.#parameters.set(name, value);
    return value;
  }

  /** Registers a non-trainable tensor saved in the state dict (e.g. running statistics). */
  protected buffer(name: string, value: Tensor): Tensor {
    keep(value);
    this.#buffers.set(name, value);
    return value;
  }

  protected child<M extends Module>(name: string, module: M): M {
    this.#children.set(name, module);
    return module;
  }

  children(): [string, Module][] {
    return [...this.#children];
  }

  *namedParameters(prefix = ""): Generator<[string, Tensor]> {
    for (const [name, p] of this.#parameters) yield [prefix + name, p];
    for (const [name, m] of this.#children) yield* m.namedParameters(`${prefix}${name}.`);
  }

  *namedBuffers(prefix = ""): Generator<[string, Tensor]> {
    for (const [name, b] of this.#buffers) yield [prefix + name, b];
    for (const [name, m] of this.#children) yield* m.namedBuffers(`${prefix}${name}.`);
  }

  *modules(): Generator<Module> {
    yield this;
    for (const m of this.#children.values()) yield* m.modules();
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.numel, 0);
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into the module's tensors (shape and name checked; dtype and device converted).
   * strict: every key must match both ways.
   */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const own = this.stateDict();
    if (strict) {
      const missing = [...own.keys()].filter((k) => !state.has(k));
      const unexpected = [...state.keys()].filter((k) => !own.has(k));
      if (missing.length || unexpected.length) {
        throw new Error(
          `state dict does not match the module: missing [${missing.join(", ")}], unexpected [${unexpected.join(", ")}]`,
        );
      }
    }
    noGrad(() => {
      for (const [name, target] of own) {
        const source = state.get(name);
        if (!source) continue;
        if (source.shape.join("x") !== target.shape.join("x")) {
          throw new Error(`state dict: ${name} has shape [${source.shape}], the module expects [${target.shape}]`);
        }
        target.copy_(source);
      }
    });
  }

  /** Moves (or casts) every parameter and buffer in place. */
  to(target: Device | DType): this {
    noGrad(() => {
      for (const m of this.modules()) m.#moveOwn(target);
    });
    return this;
  }

  #moveOwn(target: Device | DType): void {
    for (const [registry, trainable] of [
      [this.#parameters, true],
      [this.#buffers, false],
    ] as const) {
      for (const [name, t] of registry) {
        const moved = keep(t.to(target));
        if (trainable) moved.requiresGrad_(true);
        registry.set(name, moved);
        t.dispose();
        this.onTensorMoved(name, moved);
      }
    }
  }

  /** Subclasses that hold direct references to their tensors refresh them here. */
  protected onTensorMoved(_name: string, _tensor: Tensor): void {}

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) p.zeroGrad();
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
