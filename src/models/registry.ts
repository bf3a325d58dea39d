// Architectures by name, built from a plan's stages. The number of output classes is the only
// difference between a binary and a BackSplit model of the same architecture.
import type { Module } from "../engine/nn/module.js";
import { PlainUNet } from "./plain-unet.js";
import { ResEncUNet } from "./resenc-unet.js";
import { SegResNet } from "./segresnet.js";

export type ArchitectureName = "plain" | "resenc" | "segresnet";
export const ARCHITECTURES: ArchitectureName[] = ["plain", "resenc", "segresnet"];

export interface BuildSpec {
  dims: 2 | 3;
  inChannels: number;
  numClasses: number;
  features: number[];
  strides: (number | number[])[];
  kernels: (number | number[])[];
  deepSupervision: boolean;
}

export function buildModel(name: ArchitectureName, s: BuildSpec): Module {
  if (name === "plain") return new PlainUNet(s);
  if (name === "resenc") return new ResEncUNet(s);
  if (name === "segresnet") {
    // SegResNet halves every axis per level; its depth follows the plan's number of stages (at most 4).
    const levels = Math.min(4, s.features.length);
    return new SegResNet({
      dims: s.dims,
      inChannels: s.inChannels,
      numClasses: s.numClasses,
      initFilters: Math.max(8, s.features[0] - (s.features[0] % 8)),
      blocksDown: [1, 2, 2, 4].slice(0, levels),
    });
  }
  throw new Error(`unknown architecture '${name}' (${ARCHITECTURES.join(", ")})`);
}
