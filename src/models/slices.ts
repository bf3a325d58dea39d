// Runs a 2D network on 3D tensors whose depth is 1 ([N, C, 1, H, W] → [N, K, 1, H, W]), so the 2D
// configuration reuses the 3D data path (patches, sliding window) slice by slice.
import { Module } from "../engine/nn/module.js";
import { tidy } from "../engine/scope.js";
import type { Tensor } from "../engine/tensor.js";

export class SliceAdapter extends Module {
  constructor(readonly inner: Module) {
    super();
    this.child("inner", inner);
  }

  forward(x: Tensor): Tensor | Tensor[] {
    return tidy(() => {
      const out = this.inner.forward(x.squeeze(2));
      return Array.isArray(out) ? out.map((o) => o.unsqueeze(2)) : out.unsqueeze(2);
    });
  }
}
