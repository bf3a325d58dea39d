// backsplit/demo: seeded 3D phantoms that behave like the real problem (small lesions only in an organ,
// lesion-like confusers elsewhere, a ground-truth tissue map as a background source) and the whole
// demo (`backsplit demo`) as a function. Loads libtorch (the demo preprocesses and trains).
export { PHANTOM_SHAPE, type Phantom, TISSUES, makePhantom, writePhantomDataset } from "./phantom.js";
export { DEMO_ARMS, type DemoArm, type DemoOptions, type DemoRow, type DemoSteps, runDemo } from "./demo.js";
