// Layers as modules. Weights are looked up by name at call time, so Module.to() can move them.
import { ones, rand, randn, zeros } from "../create.js";
import * as F from "../functional.js";
import { noGrad } from "../runtime.js";
import type { Tensor } from "../tensor.js";
import { Module } from "./module.js";

type Ints = number | readonly number[];

function kernelVolume(kernel: Ints, dims: number): number {
  return typeof kernel === "number" ? kernel ** dims : kernel.reduce((a, b) => a * b, 1);
}

function kernelShape(kernel: Ints, dims: number): number[] {
  return typeof kernel === "number" ? Array(dims).fill(kernel) : [...kernel];
}

/** U(-bound, bound), PyTorch's default for conv and linear layers (kaiming_uniform with a = √5). */
export function uniform(shape: number[], bound: number): Tensor {
  return noGrad(() => {
    const r = rand(shape);
    const out = r.mul(2 * bound).sub(bound);
    r.dispose();
    return out;
  });
}

/** Kaiming-normal weights for leaky-ReLU nets (nnU-Net's InitWeights_He). */
export function kaimingNormal(shape: number[], fanIn: number, negativeSlope = 0.01): Tensor {
  return noGrad(() => {
    const r = randn(shape);
    const out = r.mul(Math.sqrt(2 / ((1 + negativeSlope ** 2) * fanIn)));
    r.dispose();
    return out;
  });
}

abstract class ParamLookup extends Module {
  protected get(name: string): Tensor | null {
    for (const [n, p] of this.namedParameters()) if (n === name) return p;
    for (const [n, b] of this.namedBuffers()) if (n === name) return b;
    return null;
  }
}

export interface ConvConfig {
  dims: 2 | 3;
  inChannels: number;
  outChannels: number;
  kernel: Ints;
  stride?: Ints;
  padding?: Ints | "same";
  dilation?: Ints;
  groups?: number;
  bias?: boolean;
}

export class Conv extends ParamLookup {
  readonly config: ConvConfig;
  weight: Tensor;
  bias: Tensor | null;

  constructor(config: ConvConfig) {
    super();
    this.config = config;
    const groups = config.groups ?? 1;
    const fanIn = (config.inChannels / groups) * kernelVolume(config.kernel, config.dims);
    const bound = 1 / Math.sqrt(fanIn);
    const shape = [config.outChannels, config.inChannels / groups, ...kernelShape(config.kernel, config.dims)];
    this.weight = this.param("weight", uniform(shape, bound));
    this.bias = config.bias === false ? null : this.param("bias", uniform([config.outChannels], bound));
  }

  private padding(): Ints {
    const p = this.config.padding ?? 0;
    if (p !== "same") return p;
    return kernelShape(this.config.kernel, this.config.dims).map((k) => (k - 1) >> 1);
  }

  forward(x: Tensor): Tensor {
    return F.conv(x, this.weight, this.bias, {
      stride: this.config.stride,
      padding: this.padding(),
      dilation: this.config.dilation,
      groups: this.config.groups,
    });
  }

  protected override onTensorMoved(name: string, tensor: Tensor): void {
    if (name === "weight") this.weight = tensor;
    if (name === "bias") this.bias = tensor;
  }
}

export interface ConvTransposeConfig extends Omit<ConvConfig, "padding"> {
  padding?: Ints;
  outputPadding?: Ints;
}

export class ConvTranspose extends ParamLookup {
  readonly config: ConvTransposeConfig;
  weight: Tensor;
  bias: Tensor | null;

  constructor(config: ConvTransposeConfig) {
    super();
    this.config = config;
    const groups = config.groups ?? 1;
    // PyTorch computes fan-in of a transposed conv from weight dim 1 (out/groups).
    const fanIn = (config.outChannels / groups) * kernelVolume(config.kernel, config.dims);
    const bound = 1 / Math.sqrt(fanIn);
    const shape = [config.inChannels, config.outChannels / groups, ...kernelShape(config.kernel, config.dims)];
    this.weight = this.param("weight", uniform(shape, bound));
    this.bias = config.bias === false ? null : this.param("bias", uniform([config.outChannels], bound));
  }

  forward(x: Tensor): Tensor {
    return F.convTranspose(x, this.weight, this.bias, {
      stride: this.config.stride,
      padding: this.config.padding,
      dilation: this.config.dilation,
      groups: this.config.groups,
      outputPadding: this.config.outputPadding,
    });
  }

  protected override onTensorMoved(name: string, tensor: Tensor): void {
    if (name === "weight") this.weight = tensor;
    if (name === "bias") this.bias = tensor;
  }
}

export class Linear extends ParamLookup {
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, bias = true) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param("weight", uniform([outFeatures, inFeatures], bound));
    this.bias = bias ? this.param("bias", uniform([outFeatures], bound)) : null;
  }

  forward(x: Tensor): Tensor {
    const wt = this.weight.transpose(0, 1);
    const y = x.matmul(wt);
    wt.dispose();
    if (!this.bias) return y;
    const out = y.add(this.bias);
    y.dispose();
    return out;
  }

  protected override onTensorMoved(name: string, tensor: Tensor): void {
    if (name === "weight") this.weight = tensor;
    if (name === "bias") this.bias = tensor;
  }
}

/** Instance norm with learnable affine parameters (nnU-Net's default: affine, eps 1e-5). */
export class InstanceNorm extends ParamLookup {
  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    if (affine) {
      this.param("weight", ones([channels]));
      this.param("bias", zeros([channels]));
    }
  }

  forward(x: Tensor): Tensor {
    return F.instanceNorm(x, { weight: this.get("weight"), bias: this.get("bias"), eps: this.eps });
  }
}

export class GroupNorm extends ParamLookup {
  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.param("weight", ones([channels]));
    this.param("bias", zeros([channels]));
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.groups, { weight: this.get("weight"), bias: this.get("bias"), eps: this.eps });
  }
}

export class BatchNorm extends ParamLookup {
  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.param("weight", ones([channels]));
    this.param("bias", zeros([channels]));
    this.buffer("running_mean", zeros([channels]));
    this.buffer("running_var", ones([channels]));
  }

  forward(x: Tensor): Tensor {
    return F.batchNorm(x, {
      weight: this.get("weight"),
      bias: this.get("bias"),
      runningMean: this.get("running_mean"),
      runningVar: this.get("running_var"),
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

export class Dropout extends Module {
  constructor(readonly p: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

/** Applies modules in order; intermediate tensors are freed as soon as they are consumed. */
export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.child(String(i), m));
  }

  forward(x: Tensor): Tensor {
    let out = x;
    for (const layer of this.layers) {
      const next = layer.forward(out) as Tensor;
      if (out !== x) out.dispose();
      out = next;
    }
    return out;
  }
}
