// nnU-Net's InitWeights_He(1e-2): Kaiming-normal convolution weights for LeakyReLU(0.01), zero biases.
import { Conv, ConvTranspose, kaimingNormal } from "../engine/nn/layers.js";
import type { Module } from "../engine/nn/module.js";
import { noGrad } from "../engine/runtime.js";

export function heInit(net: Module): void {
  noGrad(() => {
    for (const m of net.modules()) {
      if (!(m instanceof Conv || m instanceof ConvTranspose)) continue;
      const w = m.weight;
      const fanIn = w.shape.slice(1).reduce((a, b) => a * b, 1);
      const init = kaimingNormal(w.shape, fanIn, 0.01);
      w.copy_(init);
      init.dispose();
      m.bias?.zero_();
    }
  });
}
