// nnU-Net's InitWeights_He(1e-2): Kaiming-normal convolution weights for LeakyReLU(0.01), zero biases.
import { Conv, ConvTranspose, kaimingNormal, uniform } from "../engine/nn/layers.js";
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

/**
 * PyTorch's default layer initialisation, U(±1/√fan_in) for weights and biases: what a plain PyTorch
 * script's U-Net starts from. Not nnU-Net's; a knob to measure what He initialisation changes.
 */
export function pytorchDefaultInit(net: Module): void {
  noGrad(() => {
    for (const m of net.modules()) {
      if (!(m instanceof Conv || m instanceof ConvTranspose)) continue;
      // Weight dim 1 is in/groups for a convolution and out/groups for a transposed one: PyTorch's fan-in.
      const bound = 1 / Math.sqrt(m.weight.shape.slice(1).reduce((a, b) => a * b, 1));
      for (const p of [m.weight, m.bias]) {
        if (!p) continue;
        const init = uniform(p.shape, bound);
        p.copy_(init);
        init.dispose();
      }
    }
  });
}
