// nnU-Net's residual-encoder U-Net (ResEnc): a stem, then per stage residual blocks
// (conv-norm-LeakyReLU-conv-norm, plus a skip that average-pools and projects when the shape changes),
// and the plain U-Net's decoder with deep-supervision heads.
import { cat } from "../engine/create.js";
import * as F from "../engine/functional.js";
import { Conv, ConvTranspose, InstanceNorm, LeakyReLU, Sequential } from "../engine/nn/layers.js";
import { Module } from "../engine/nn/module.js";
import { tidy } from "../engine/scope.js";
import type { Tensor } from "../engine/tensor.js";
import { heInit } from "./init.js";
import { convBlock } from "./plain-unet.js";

export interface ResEncUNetConfig {
  dims: 2 | 3;
  inChannels: number;
  numClasses: number;
  features: number[];
  strides?: (number | number[])[];
  kernels?: (number | number[])[];
  /** Residual blocks per encoder stage (nnU-Net's ResEncM: 1, 3, 4, 6, 6, 6). */
  blocksPerStage?: number[];
  deepSupervision?: boolean;
}

const isOne = (s: number | number[]) => (Array.isArray(s) ? s.every((v) => v === 1) : s === 1);

class ResidualBlock extends Module {
  readonly conv1: Conv;
  readonly norm1: InstanceNorm;
  readonly conv2: Conv;
  readonly norm2: InstanceNorm;
  readonly project: Sequential | null;

  constructor(
    readonly dims: 2 | 3,
    inC: number,
    outC: number,
    kernel: number | number[],
    readonly stride: number | number[],
  ) {
    super();
    this.conv1 = this.child(
      "conv1",
      new Conv({ dims, inChannels: inC, outChannels: outC, kernel, stride, padding: "same" }),
    );
    this.norm1 = this.child("norm1", new InstanceNorm(outC));
    this.conv2 = this.child("conv2", new Conv({ dims, inChannels: outC, outChannels: outC, kernel, padding: "same" }));
    this.norm2 = this.child("norm2", new InstanceNorm(outC));
    this.project =
      inC === outC && isOne(stride)
        ? null
        : this.child(
            "project",
            new Sequential(
              new Conv({ dims, inChannels: inC, outChannels: outC, kernel: 1, bias: false }),
              new InstanceNorm(outC),
            ),
          );
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.norm2.forward(this.conv2.forward(F.leakyRelu(this.norm1.forward(this.conv1.forward(x)), 0.01)));
      let skip = x;
      if (!isOne(this.stride))
        skip = F.avgPool(skip, this.stride, { stride: this.stride, ceilMode: true, countIncludePad: false });
      if (this.project) skip = this.project.forward(skip);
      return F.leakyRelu(h.add(skip), 0.01);
    });
  }
}

export class ResEncUNet extends Module {
  readonly stem: Sequential;
  readonly encoder: Sequential[];
  readonly upsample: ConvTranspose[] = [];
  readonly decoder: Sequential[] = [];
  readonly heads: Conv[] = [];
  readonly deepSupervision: boolean;

  constructor(config: ResEncUNetConfig) {
    super();
    const { dims, features } = config;
    const n = features.length;
    const strides = config.strides ?? [1, ...Array(n - 1).fill(2)];
    const kernels = config.kernels ?? Array(n).fill(3);
    const blocks = config.blocksPerStage ?? [1, 3, 4, 6, 6, 6, 6].slice(0, n);
    this.deepSupervision = config.deepSupervision ?? false;
    this.stem = this.child("stem", convBlock(dims, config.inChannels, features[0], kernels[0], 1));
    this.encoder = features.map((f, i) => {
      const stage: Module[] = [
        new ResidualBlock(dims, i === 0 ? features[0] : features[i - 1], f, kernels[i], strides[i]),
      ];
      for (let b = 1; b < blocks[i]; b++) stage.push(new ResidualBlock(dims, f, f, kernels[i], 1));
      return this.child(`encoder${i}`, new Sequential(...stage));
    });
    for (let i = n - 2; i >= 0; i--) {
      const s = strides[i + 1];
      this.upsample.push(
        this.child(
          `up${i}`,
          new ConvTranspose({ dims, inChannels: features[i + 1], outChannels: features[i], kernel: s, stride: s }),
        ),
      );
      this.decoder.push(
        this.child(
          `decoder${i}`,
          new Sequential(
            convBlock(dims, 2 * features[i], features[i], kernels[i], 1),
            convBlock(dims, features[i], features[i], kernels[i], 1),
          ),
        ),
      );
      this.heads.push(
        this.child(`head${i}`, new Conv({ dims, inChannels: features[i], outChannels: config.numClasses, kernel: 1 })),
      );
    }
    heInit(this);
  }

  forward(x: Tensor): Tensor | Tensor[] {
    return tidy(() => {
      const skips: Tensor[] = [];
      let h = this.stem.forward(x);
      for (const enc of this.encoder) {
        h = enc.forward(h);
        skips.push(h);
      }
      const outputs: Tensor[] = [];
      for (let k = 0; k < this.decoder.length; k++) {
        h = this.decoder[k].forward(cat([this.upsample[k].forward(h), skips[skips.length - 2 - k]], 1));
        if (this.deepSupervision || k === this.decoder.length - 1) outputs.push(this.heads[k].forward(h));
      }
      outputs.reverse();
      return this.deepSupervision ? outputs : outputs[0];
    });
  }
}
