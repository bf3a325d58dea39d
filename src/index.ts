// backsplit: small-lesion segmentation with split background classes.
export * as engine from "./engine/index.js";
export * as models from "./models/index.js";
