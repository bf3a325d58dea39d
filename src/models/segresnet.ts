// SegResNet (Myronenko 2018, as in MONAI): pre-activation residual blocks with group norm,
// stride-2 convolutions down, 1×1 convolution + linear upsampling up, skip connections by addition.
// One output (no deep supervision).
import * as F from "../engine/functional.js";
import { Conv, GroupNorm, Sequential } from "../engine/nn/layers.js";
import { Module } from "../engine/nn/module.js";
import { tidy } from "../engine/scope.js";
import type { Tensor } from "../engine/tensor.js";

export interface SegResNetConfig {
  dims: 2 | 3;
  inChannels: number;
  numClasses: number;
  /** Channels of the first level (doubled at each level down); a multiple of 8 for group norm. */
  initFilters?: number;
  blocksDown?: number[];
  blocksUp?: number[];
}

class PreActBlock extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv;
  readonly norm2: GroupNorm;
  readonly conv2: Conv;

  constructor(dims: 2 | 3, channels: number) {
    super();
    const groups = Math.min(8, channels);
    this.norm1 = this.child("norm1", new GroupNorm(groups, channels));
    this.conv1 = this.child(
      "conv1",
      new Conv({ dims, inChannels: channels, outChannels: channels, kernel: 3, padding: "same", bias: false }),
    );
    this.norm2 = this.child("norm2", new GroupNorm(groups, channels));
    this.conv2 = this.child(
      "conv2",
      new Conv({ dims, inChannels: channels, outChannels: channels, kernel: 3, padding: "same", bias: false }),
    );
  }

  forward(x: Tensor): Tensor {
    return tidy(() =>
      this.conv2.forward(F.relu(this.norm2.forward(this.conv1.forward(F.relu(this.norm1.forward(x)))))).add(x),
    );
  }
}

export class SegResNet extends Module {
  readonly init: Conv;
  readonly down: Sequential[];
  readonly upConv: Conv[] = [];
  readonly up: Sequential[] = [];
  readonly finalNorm: GroupNorm;
  readonly final: Conv;
  readonly dims: 2 | 3;

  constructor(config: SegResNetConfig) {
    super();
    const dims = config.dims;
    this.dims = dims;
    const f = config.initFilters ?? 8;
    const blocksDown = config.blocksDown ?? [1, 2, 2, 4];
    const blocksUp = config.blocksUp ?? Array(blocksDown.length - 1).fill(1);
    this.init = this.child(
      "init",
      new Conv({ dims, inChannels: config.inChannels, outChannels: f, kernel: 3, padding: "same", bias: false }),
    );
    this.down = blocksDown.map((n, i) => {
      const c = f * 2 ** i;
      const layers: Module[] =
        i === 0
          ? []
          : [new Conv({ dims, inChannels: c / 2, outChannels: c, kernel: 3, stride: 2, padding: 1, bias: false })];
      for (let b = 0; b < n; b++) layers.push(new PreActBlock(dims, c));
      return this.child(`down${i}`, new Sequential(...layers));
    });
    for (let i = blocksDown.length - 1; i > 0; i--) {
      const c = f * 2 ** i;
      this.upConv.push(
        this.child(`upconv${i}`, new Conv({ dims, inChannels: c, outChannels: c / 2, kernel: 1, bias: false })),
      );
      this.up.push(
        this.child(
          `up${i}`,
          new Sequential(
            ...Array.from({ length: blocksUp[blocksDown.length - 1 - i] }, () => new PreActBlock(dims, c / 2)),
          ),
        ),
      );
    }
    this.finalNorm = this.child("finalnorm", new GroupNorm(Math.min(8, f), f));
    this.final = this.child("final", new Conv({ dims, inChannels: f, outChannels: config.numClasses, kernel: 1 }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const skips: Tensor[] = [];
      let h = this.init.forward(x);
      for (const d of this.down) {
        h = d.forward(h);
        skips.push(h);
      }
      for (let k = 0; k < this.up.length; k++) {
        const skip = skips[skips.length - 2 - k];
        const up = F.interpolate(
          this.upConv[k].forward(h),
          skip.shape.slice(2),
          this.dims === 3 ? "trilinear" : "bilinear",
          false,
        );
        h = this.up[k].forward(up.add(skip));
      }
      return this.final.forward(F.relu(this.finalNorm.forward(h)));
    });
  }
}
