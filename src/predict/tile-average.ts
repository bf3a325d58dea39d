// What overlapping tiles (and mirrored passes) average in the sliding window. Kept apart from sliding.ts,
// which loads the engine, so that the CLI can name the choices without loading it.

/** "logits": the raw outputs, one softmax at the end (nnU-Net v2); "probabilities": each tile's softmax. */
export type TileAverage = "logits" | "probabilities";
export const TILE_AVERAGES: readonly TileAverage[] = ["logits", "probabilities"];

/** nnU-Net v2's, and measured here (docs/results.md §0): fewer false positives than averaging probabilities
 * on BraTS in 2D and 3D, no change on MS. */
export const DEFAULT_TILE_AVERAGE: TileAverage = "logits";
