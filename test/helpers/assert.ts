import assert from "node:assert/strict";

/** Asserts |a - b| <= atol + rtol·|b| elementwise, reporting the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  what = "values",
): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const b = expected[i];
    if (Number.isNaN(b) && Number.isNaN(a)) continue;
    const excess = Math.abs(a - b) - (atol + rtol * Math.abs(b));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess)) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    );
  }
}
