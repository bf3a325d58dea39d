// backsplit/models: segmentation architectures built on the engine.
export * from "./plain-unet.js";
