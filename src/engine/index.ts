// backsplit/engine: libtorch tensors, autograd, nn modules and optimisers for TypeScript.
export * from "./tensor.js";
export * from "./create.js";
export * as F from "./functional.js";
export * from "./runtime.js";
export * from "./scope.js";
export * from "./optim.js";
export * from "./amp.js";
export * from "./safetensors.js";
export * from "../util/worker.js";
export { Module } from "./nn/module.js";
export * as nn from "./nn/layers.js";
export { buildConfig } from "./native.js";
export * from "./distributed.js";
