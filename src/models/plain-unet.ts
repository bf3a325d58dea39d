// nnU-Net's plain convolutional U-Net: per stage (conv → instance norm → LeakyReLU) × n,
// strided convolution down, transposed convolution up, 1×1 segmentation heads per decoder
// stage for deep supervision. Binary and BackSplit models differ only in numClasses.
import { cat } from "../engine/create.js";
import { Conv, ConvTranspose, InstanceNorm, LeakyReLU, Sequential } from "../engine/nn/layers.js";
import { Module } from "../engine/nn/module.js";
import { tidy } from "../engine/scope.js";
import type { Tensor } from "../engine/tensor.js";
import { heInit } from "./init.js";

export interface PlainUNetConfig {
  dims: 2 | 3;
  inChannels: number;
  numClasses: number;
  /** Channels per resolution stage, e.g. [32, 64, 128, 256, 320]. */
  features: number[];
  /** Downsampling stride of each stage (the first is usually 1). */
  strides?: (number | number[])[];
  /** Kernel size of each stage's convolutions (per stage: a number or one per axis); default 3. */
  kernels?: (number | number[])[];
  kernel?: number;
  convsPerStage?: number;
  deepSupervision?: boolean;
}

/** conv → instance norm → LeakyReLU(0.01), the block both U-Nets are made of. */
export function convBlock(
  dims: 2 | 3,
  inC: number,
  outC: number,
  kernel: number | number[],
  stride: number | number[],
): Sequential {
  return new Sequential(
    new Conv({ dims, inChannels: inC, outChannels: outC, kernel, stride, padding: "same" }),
    new InstanceNorm(outC),
    new LeakyReLU(0.01),
  );
}

function stage(
  dims: 2 | 3,
  inC: number,
  outC: number,
  kernel: number | number[],
  stride: number | number[],
  n: number,
): Sequential {
  const blocks = [convBlock(dims, inC, outC, kernel, stride)];
  for (let i = 1; i < n; i++) blocks.push(convBlock(dims, outC, outC, kernel, 1));
  return new Sequential(...blocks);
}

export class PlainUNet extends Module {
  readonly config: Required<PlainUNetConfig>;
  readonly encoder: Sequential[];
  readonly upsample: ConvTranspose[];
  readonly decoder: Sequential[];
  readonly heads: Conv[];

  constructor(config: PlainUNetConfig) {
    super();
    const n = config.features.length;
    this.config = {
      strides: [1, ...Array(n - 1).fill(2)],
      kernel: 3,
      kernels: Array(n).fill(config.kernel ?? 3),
      convsPerStage: 2,
      deepSupervision: false,
      ...config,
    };
    const { dims, features, strides, kernels, convsPerStage } = this.config;
    this.encoder = features.map((f, i) =>
      this.child(
        `encoder${i}`,
        stage(dims, i === 0 ? config.inChannels : features[i - 1], f, kernels[i], strides[i], convsPerStage),
      ),
    );
    this.upsample = [];
    this.decoder = [];
    this.heads = [];
    for (let i = n - 2; i >= 0; i--) {
      const s = strides[i + 1];
      this.upsample.push(
        this.child(
          `up${i}`,
          new ConvTranspose({
            dims,
            inChannels: features[i + 1],
            outChannels: features[i],
            kernel: s,
            stride: s,
            bias: true,
          }),
        ),
      );
      this.decoder.push(
        this.child(`decoder${i}`, stage(dims, 2 * features[i], features[i], kernels[i], 1, convsPerStage)),
      );
      this.heads.push(
        this.child(`head${i}`, new Conv({ dims, inChannels: features[i], outChannels: config.numClasses, kernel: 1 })),
      );
    }
    heInit(this);
  }

  /**
   * Returns the full-resolution logits [N, classes, ...], or with deep supervision a list from
   * full resolution down to the coarsest decoder stage.
   */
  forward(x: Tensor): Tensor | Tensor[] {
    return tidy(() => {
      const skips: Tensor[] = [];
      let h = x;
      for (const enc of this.encoder) {
        h = enc.forward(h);
        skips.push(h);
      }
      const outputs: Tensor[] = [];
      for (let k = 0; k < this.decoder.length; k++) {
        const up = this.upsample[k].forward(h);
        h = this.decoder[k].forward(cat([up, skips[skips.length - 2 - k]], 1));
        if (this.config.deepSupervision || k === this.decoder.length - 1) outputs.push(this.heads[k].forward(h));
      }
      outputs.reverse();
      return this.config.deepSupervision ? outputs : outputs[0];
    });
  }
}
