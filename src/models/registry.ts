// Architectures by name, built from a plan's stages. The number of output classes is the only
// difference between a binary and a BackSplit model of the same architecture.
import type { Module } from "../engine/nn/module.js";
import type { Configuration } from "../plan/plan.js";
import { PlainUNet } from "./plain-unet.js";
import { ResEncUNet } from "./resenc-unet.js";
import { SegResNet } from "./segresnet.js";
import { SliceAdapter } from "./slices.js";

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

export interface PlanBuild {
  /** plain (default), resenc or segresnet. */
  architecture?: ArchitectureName;
  inChannels: number;
  numClasses: number;
  /** Feature counts per stage; default the planned ones (fewer stages use the plan's first strides and kernels). */
  features?: number[];
  deepSupervision: boolean;
}

/**
 * The network of a plan's configuration, as training builds it and prediction rebuilds it: a 2D
 * configuration's network runs on 3D tensors of depth 1 through a slice adapter.
 */
export function buildFromPlan(cfg: Configuration, o: PlanBuild): Module {
  const features = o.features ?? cfg.architecture.features;
  const stages = features.length;
  const built = buildModel(o.architecture ?? "plain", {
    dims: cfg.dims,
    inChannels: o.inChannels,
    numClasses: o.numClasses,
    features,
    strides: cfg.architecture.strides.slice(0, stages),
    kernels: cfg.architecture.kernels.slice(0, stages),
    deepSupervision: o.deepSupervision,
  });
  return cfg.dims === 2 ? new SliceAdapter(built) : built;
}
