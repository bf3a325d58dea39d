// backsplit/models: segmentation architectures built on the engine.
export * from "./plain-unet.js";
export * from "./resenc-unet.js";
export * from "./segresnet.js";
export * from "./registry.js";
