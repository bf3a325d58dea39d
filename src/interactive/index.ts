// Interactive segmentation without pretrained weights: the random walker, sessions, simulated clicks.
export * from "./random-walker.js";
export * from "./session.js";
export * from "./simulate.js";
