// Weight initialisation. nnU-Net's InitWeights_He(1e-2): Kaiming-normal convolution weights for
// LeakyReLU(0.01), zero biases. And PyTorch's default, to measure what He changes.
import { Conv, ConvTranspose, kaimingNormal, uniform } from "../engine/nn/layers.js";
import type { Module } from "../engine/nn/module.js";
import { noGrad } from "../engine/runtime.js";
import type { Tensor } from "../engine/tensor.js";

/**
 * Every convolution and transposed convolution of `net` with its fan-in as PyTorch computes it: weight
 * dim 1 (in/groups for a convolution, out/groups for a transposed one) times the kernel volume.
 */
function* convolutions(net: Module): Generator<{ layer: Conv | ConvTranspose; fanIn: number }> {
  for (const m of net.modules())
    if (m instanceof Conv || m instanceof ConvTranspose)
      yield { layer: m, fanIn: m.weight.shape.slice(1).reduce((a, b) => a * b, 1) };
}

/** Copies a freshly drawn tensor into a parameter and frees the draw. */
function assign(p: Tensor, draw: Tensor): void {
  p.copy_(draw);
  draw.dispose();
}

export function heInit(net: Module): void {
  noGrad(() => {
    for (const { layer, fanIn } of convolutions(net)) {
      assign(layer.weight, kaimingNormal(layer.weight.shape, fanIn, 0.01));
      layer.bias?.zero_();
    }
  });
}

/**
 * PyTorch's default layer initialisation, U(±1/√fan_in) for weights and biases: what a plain PyTorch
 * script's U-Net starts from. Not nnU-Net's; a knob to measure what He initialisation changes.
 */
export function pytorchDefaultInit(net: Module): void {
  noGrad(() => {
    for (const { layer, fanIn } of convolutions(net)) {
      const bound = 1 / Math.sqrt(fanIn);
      assign(layer.weight, uniform(layer.weight.shape, bound));
      if (layer.bias) assign(layer.bias, uniform(layer.bias.shape, bound));
    }
  });
}
