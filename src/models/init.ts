// Weight initialisation. nnU-Net's InitWeights_He(1e-2): Kaiming-normal convolution weights for
// LeakyReLU(0.01), zero biases. And PyTorch's default, to measure what He changes; and a lesion prior on
// the heads' biases.
import { tensor } from "../engine/create.js";
import { Conv, ConvTranspose, kaimingNormal, uniform } from "../engine/nn/layers.js";
import type { Module } from "../engine/nn/module.js";
import { noGrad } from "../engine/runtime.js";
import type { Tensor } from "../engine/tensor.js";
import { SegResNet } from "./segresnet.js";

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
export function pytorchDefaultInit(net: Module, only?: (layer: Conv | ConvTranspose) => boolean): void {
  noGrad(() => {
    for (const { layer, fanIn } of convolutions(net)) {
      if (only && !only(layer)) continue;
      const bound = 1 / Math.sqrt(fanIn);
      assign(layer.weight, uniform(layer.weight.shape, bound));
      if (layer.bias) assign(layer.bias, uniform(layer.bias.shape, bound));
    }
  });
}

/**
 * The lesion probability the heads start at when a run names none (`TrainConfig.lesionPrior`): 0, the
 * biases the initialisation drew (nnU-Net's zeros: an even start). From an even start, cross-entropy on a
 * background of > 99 % of the voxels pulls every lesion logit down in the first epoch and a run can sit at
 * an all-background prediction for a while; 0.01 (the prior of RetinaNet's focal-loss paper, Lin et al.
 * 2017) starts below that. Measured (docs/results.md §0, "A 1 % lesion start"): on the MS hemispheres in
 * 2D it made all 24 runs learn in epoch 0 (the default: 19 of 24 in the first quarter), but on BraTS 2D it
 * lowered Dice on 11 of 12 runs (0.569 → 0.490). The two data sets disagree, so the default stays nnU-Net's.
 */
export const DEFAULT_LESION_PRIOR = 0;

/**
 * Sets the biases of every segmentation head so that, before any training, the softmax of the biases
 * gives the lesion classes together probability `prior` (split evenly between them) and the other
 * classes the rest (split evenly). Weights are left as drawn. `prior` 0 leaves the biases as the
 * initialisation drew them.
 */
export function setLesionPrior(net: Module, numClasses: number, lesionClasses: readonly number[], prior: number): void {
  if (!(prior >= 0 && prior < 1)) throw new Error(`lesion prior must lie in [0, 1), not ${prior}`);
  if (prior === 0) return;
  const lesions = new Set(lesionClasses);
  const others = numClasses - lesions.size;
  if (lesions.size === 0 || others < 1 || [...lesions].some((c) => !(c >= 0 && c < numClasses)))
    throw new Error(`lesion classes [${lesionClasses}] do not leave lesion and other classes among ${numClasses}`);
  // Biases log p up to a common constant: softmax(log p) = p.
  const bias = Float32Array.from({ length: numClasses }, (_, c) =>
    lesions.has(c) ? Math.log(prior / lesions.size) : Math.log((1 - prior) / others),
  );
  const heads = outputHeads(net);
  if (heads.size === 0) throw new Error("the network has no segmentation heads to start at a lesion prior");
  noGrad(() => {
    for (const head of heads) {
      const b = (head as Conv).bias;
      if (!b || b.shape[0] !== numClasses) throw new Error(`a segmentation head has no bias of ${numClasses} classes`);
      assign(b, tensor(bias, [numClasses]));
    }
  });
}

/** Every convolution that outputs class logits: the U-Nets' heads and SegResNet's output convolution. */
function outputHeads(net: Module): Set<Module> {
  // SegResNet's one output convolution is its head here; the initialisation schemes keep counting it as
  // body, as they always have (their measurements were made so).
  return new Set([
    ...segmentationHeads(net),
    ...[...net.modules()].filter((m): m is SegResNet => m instanceof SegResNet).map((m) => m.final),
  ]);
}

/**
 * Makes every background channel of every head a copy of the first one (weights and bias). While the
 * background is trained as one class (the warm-up), identical channels get identical gradients and stay
 * tied, and the body gets the gradient a binary head with that background channel would give it.
 */
export function tieBackgroundHeads(net: Module, numClasses: number, lesionClasses: readonly number[]): void {
  const lesions = new Set(lesionClasses);
  const background = Array.from({ length: numClasses }, (_, c) => c).filter((c) => !lesions.has(c));
  if (background.length < 2) return;
  noGrad(() => {
    for (const head of outputHeads(net)) {
      for (const p of [(head as Conv).weight, (head as Conv).bias]) {
        if (!p) continue;
        if (p.shape[0] !== numClasses)
          throw new Error(`a segmentation head has ${p.shape[0]} outputs, not ${numClasses}`);
        const first = p.narrow(0, background[0], 1);
        for (const c of background.slice(1)) {
          const target = p.narrow(0, c, 1);
          target.copy_(first);
          target.dispose();
        }
        first.dispose();
      }
    }
  });
}

/** How a training run initialises its network (`TrainConfig.init`). */
export type InitScheme = "he" | "pytorch" | "pytorch-heads" | "pytorch-body";
export const INIT_SCHEMES: readonly InitScheme[] = ["he", "pytorch", "pytorch-heads", "pytorch-body"];

/** The 1×1 segmentation heads of every U-Net in `net` (the 2D slice adapter wraps one). */
function segmentationHeads(net: Module): Set<Module> {
  return new Set([...net.modules()].flatMap((m) => (m as { heads?: Module[] }).heads ?? []));
}

/**
 * Re-initialises a network that its constructor drew with He: "pytorch" redraws every convolution by
 * PyTorch's default, "pytorch-heads" only the segmentation heads, "pytorch-body" all but the heads. The
 * two halves locate which part of the initialisation changes training (docs/results.md §0).
 */
export function applyInit(net: Module, scheme: InitScheme = "he"): void {
  if (scheme === "he") return;
  if (scheme === "pytorch") {
    pytorchDefaultInit(net);
    return;
  }
  const heads = segmentationHeads(net);
  pytorchDefaultInit(net, (layer) => heads.has(layer) === (scheme === "pytorch-heads"));
}

/**
 * The initialisation a run uses when its config names none: PyTorch's default on every layer but the
 * heads, He on the heads, in 2D and 3D. Measured with `bench -- twin-fp` against nnU-Net's He
 * (docs/results.md §0): in 2D He's larger body weights take smaller relative steps (instance norm makes
 * the step go as lr/‖w‖²), and at a CPU budget 4 of 9 runs learned only after the first quarter; with
 * "pytorch-body" 9 of 9 learned by epoch 1, with 22 % fewer false positives. In 3D it found more MS
 * lesions on 4 of 5 seeds with fewer false positives, and raised BraTS Dice from 0.92× to 0.97× the
 * PyTorch twin's over ten runs at more false positives (0.77× the twin's, He 0.64×). `--init he` gives
 * nnU-Net's.
 */
export const DEFAULT_INIT: InitScheme = "pytorch-body";
