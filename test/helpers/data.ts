// Deterministic test data from a small seeded PRNG (mulberry32), identical on every machine.

export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normals(n: number, seed: number): number[] {
  const u = prng(seed);
  const out: number[] = [];
  while (out.length < n) {
    const r = Math.sqrt(-2 * Math.log(u() + 1e-12));
    const a = 2 * Math.PI * u();
    out.push(r * Math.cos(a), r * Math.sin(a));
  }
  return out.slice(0, n);
}

export function uniforms(n: number, seed: number, low = 0, high = 1): number[] {
  const u = prng(seed);
  return Array.from({ length: n }, () => low + (high - low) * u());
}

export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
