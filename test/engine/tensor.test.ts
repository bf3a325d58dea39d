// Tensor basics: data round trips per dtype, seeded RNG equal to PyTorch's, errors, scopes, grad mode.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  arange,
  engineInfo,
  full,
  keep,
  manualSeed,
  noGrad,
  ones,
  rand,
  randint,
  randn,
  setThreads,
  tensor,
  tidy,
  zeros,
} from "../../src/engine/index.js";
import { fromBytes } from "../../src/engine/safetensors.js";
import { assertClose } from "../helpers/assert.js";
import { runPython } from "../helpers/python.js";

test("typed arrays round-trip for every dtype, with shape", () => {
  const cases = [
    [new Float32Array([1.5, -2, 3.25, 0, 7, 8]), "float32"],
    [new Float64Array([1e-300, -2, 3.25, 0, 7, 8]), "float64"],
    [new BigInt64Array([1n, -2n, 2n ** 40n, 0n, 7n, 8n]), "int64"],
    [new Int32Array([1, -2, 3, 0, 7, 8]), "int32"],
    [new Uint8Array([1, 255, 3, 0, 7, 8]), "uint8"],
  ] as const;
  for (const [data, dtype] of cases) {
    const t = tensor(data, [2, 3]);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.data(), data);
    t.dispose();
  }
  const b = tensor([1, 0, 1], [3], { dtype: "bool" });
  assert.equal(b.dtype, "bool");
  assert.deepEqual(Array.from(b.data<"bool">()), [1, 0, 1]);
  // float16 / bfloat16 keep raw bit patterns: 1.0 is 0x3c00 in half and 0x3f80 in bfloat16.
  const half = tensor([1, -2, 0.5]).to("float16");
  assert.deepEqual(Array.from(half.data<"float16">()), [0x3c00, 0xc000, 0x3800]);
  const bf = tensor([1, -2, 0.5]).to("bfloat16");
  assert.deepEqual(Array.from(bf.data<"bfloat16">()), [0x3f80, 0xc000, 0x3f00]);
  assert.deepEqual(bf.toArray(), [1, -2, 0.5]);
  assert.deepEqual(fromBytes(new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), [2], "float16").toArray(), [1, -2]);
  assert.throws(() => tensor(new Float32Array(5), [2, 3]), /data has 20 bytes, shape and dtype need 24/);
});

test("creation ops give the documented values", () => {
  assert.deepEqual(zeros([2, 2]).toArray(), [0, 0, 0, 0]);
  assert.deepEqual(ones([3], { dtype: "int32" }).data(), new Int32Array([1, 1, 1]));
  assert.deepEqual(full([2], 2.5).toArray(), [2.5, 2.5]);
  const a = arange(0, 5);
  assert.equal(a.dtype, "int64");
  assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
  assert.deepEqual(arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
});

test("manualSeed reproduces PyTorch's CPU generator exactly", () => {
  manualSeed(1234);
  const ours = {
    randn: randn([3, 4]).toArray(),
    rand: rand([3, 4]).toArray(),
    randint: randint(0, 10, [3, 4]).toArray(),
  };
  const theirs = runPython<typeof ours>("rng_reference.py", { seed: 1234, shape: [3, 4] });
  assertClose(ours.randn, theirs.randn, 0, 0, "randn");
  assertClose(ours.rand, theirs.rand, 0, 0, "rand");
  assert.deepEqual(ours.randint, theirs.randint);
  manualSeed(1234);
  assert.deepEqual(randn([3, 4]).toArray(), ours.randn);
});

test("libtorch errors become JS errors carrying libtorch's message", () => {
  assert.throws(() => zeros([2, 3]).matmul(zeros([4, 5])), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)/);
  assert.throws(() => zeros([2]).reshape([3]), /shape '\[3\]' is invalid for input of size 2/);
  assert.throws(() => zeros([2]).to("cuda:7"), /CUDA|cuda/);
  assert.throws(() => zeros([2], { dtype: "complex" as never }), /unknown dtype 'complex'/);
  const t = zeros([2]);
  t.dispose();
  assert.throws(() => t.add(1), /tensor was disposed/);
});

test("tidy frees intermediates, keeps results and keep()s; errors free everything", () => {
  let inner: ReturnType<typeof zeros> | null = null;
  let kept: ReturnType<typeof zeros> | null = null;
  const result = tidy(() => {
    inner = ones([4]).mul(2);
    kept = keep(ones([2]));
    return { sum: inner.sum(), list: [inner.add(1)] };
  });
  assert.equal(inner!.disposed, true);
  assert.equal(kept!.disposed, false);
  assert.equal(result.sum.item(), 8);
  assert.equal(result.list[0].disposed, false);
  let leaked: ReturnType<typeof zeros> | null = null;
  assert.throws(() =>
    tidy(() => {
      leaked = ones([3]);
      throw new Error("boom");
    }),
  );
  assert.equal(leaked!.disposed, true);
  // Nested: the inner result survives the inner scope and is freed by the outer one.
  let survivor: ReturnType<typeof zeros> | null = null;
  tidy(() => {
    survivor = tidy(() => ones([2]).add(1));
    assert.equal(survivor.disposed, false);
    return null;
  });
  assert.equal(survivor!.disposed, true);
});

test("tidy does not walk a returned typed array's elements (a tensor's data holds no tensors)", () => {
  // Walking them made every sliding-window batch build and collect an array as long as its output.
  const data = new Float32Array(4);
  let walked = false;
  Object.defineProperty(data, "probe", {
    enumerable: true,
    get: () => {
      walked = true;
      return 0;
    },
  });
  let t: ReturnType<typeof zeros> | null = null;
  const result = tidy(() => {
    t = ones([4]);
    return data;
  });
  assert.equal(result, data);
  assert.equal(walked, false);
  assert.equal(t!.disposed, true);
});

test("noGrad disables recording and restores it", () => {
  const x = ones([2]).requiresGrad_(true);
  const y = noGrad(() => x.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.equal(x.mul(2).requiresGrad, true);
  assert.throws(
    () =>
      noGrad(() => {
        throw new Error("inside");
      }),
    /inside/,
  );
  assert.equal(x.mul(3).requiresGrad, true);
});

test("engine info reports the thread count that was set", () => {
  setThreads(1);
  assert.equal(engineInfo().threads, 1);
  setThreads(2);
  const info = engineInfo();
  assert.equal(info.threads, 2);
  assert.match(info.version, /^\d+\.\d+/);
  assert.ok(info.libtorch?.libDir);
});
