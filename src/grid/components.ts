// Connected components of a binary mask (26- or 6-connectivity), by two-pass union-find.
// Used for lesion counts here and for lesion-wise matching in evaluation.

export type Connectivity = 6 | 26;

export interface Components {
  /** Component id per voxel (0 = outside the mask, 1..count), x fastest. */
  labels: Int32Array;
  count: number;
  /** Voxel count of each component; sizes[0] is unused. */
  sizes: number[];
}

function find(parent: Int32Array, start: number): number {
  let root = start;
  while (parent[root] !== root) root = parent[root];
  // Path compression: point every node on the way straight at the root.
  for (let x = start; parent[x] !== root; ) {
    const next = parent[x];
    parent[x] = root;
    x = next;
  }
  return root;
}

/** Labels the non-zero voxels of mask (shape [nx, ny, nz], x fastest). */
export function connectedComponents(
  mask: ArrayLike<number>,
  shape: readonly number[],
  connectivity: Connectivity = 26,
): Components {
  const [nx, ny, nz] = shape;
  const labels = new Int32Array(nx * ny * nz);
  // Neighbours already visited in raster order (negative offsets only).
  const offsets: [number, number, number][] = [];
  for (let dz = -1; dz <= 0; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        if (dz === 0 && (dy > 0 || (dy === 0 && dx >= 0))) continue;
        if (connectivity === 6 && Math.abs(dx) + Math.abs(dy) + Math.abs(dz) !== 1) continue;
        offsets.push([dx, dy, dz]);
      }
    }
  }
  let parent = new Int32Array(1024);
  let next = 1;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = nx * (y + ny * z);
      for (let x = 0; x < nx; x++) {
        const p = row + x;
        if (!mask[p]) continue;
        let label = 0;
        for (const [dx, dy, dz] of offsets) {
          const qx = x + dx;
          const qy = y + dy;
          const qz = z + dz;
          if (qx < 0 || qx >= nx || qy < 0 || qy >= ny || qz < 0) continue;
          const q = labels[qx + nx * (qy + ny * qz)];
          if (q === 0) continue;
          if (label === 0) label = q;
          else if (q !== label) {
            const a = find(parent, label);
            const b = find(parent, q);
            if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
          }
        }
        if (label === 0) {
          if (next >= parent.length) {
            const grown = new Int32Array(parent.length * 2);
            grown.set(parent);
            parent = grown;
          }
          parent[next] = next;
          label = next++;
        }
        labels[p] = label;
      }
    }
  }
  // Second pass: provisional labels → consecutive component ids in raster order of first appearance.
  const finalId = new Int32Array(next);
  let count = 0;
  for (let l = 1; l < next; l++) {
    const root = find(parent, l);
    if (finalId[root] === 0) finalId[root] = ++count;
    finalId[l] = finalId[root];
  }
  const sizes = new Array(count + 1).fill(0);
  for (let p = 0; p < labels.length; p++) {
    if (labels[p] !== 0) {
      labels[p] = finalId[labels[p]];
      sizes[labels[p]]++;
    }
  }
  return { labels, count, sizes };
}
