// Renumbering a session's accepted classes into a background source (the web server's save).
import assert from "node:assert/strict";
import { test } from "node:test";
import { nextClassValue, renumberClasses, withClass } from "../../src/labels/renumber.js";

test("a new source numbers the session's classes 1, 2, … in their order", () => {
  assert.deepEqual(renumberClasses({ organ: 1, vessel: 2 }), {
    labels: { organ: 1, vessel: 2 },
    values: { 1: 1, 2: 2 },
  });
  assert.deepEqual(renumberClasses({ b: 5, a: 2 }), { labels: { b: 1, a: 2 }, values: { 5: 1, 2: 2 } });
});

test("a name already in the source keeps its value; new names follow the largest value", () => {
  const source = { organ: 1, bone: 4 };
  const r = renumberClasses({ vessel: 1, organ: 2, fat: 3 }, source);
  assert.deepEqual(r.labels, { organ: 1, bone: 4, vessel: 5, fat: 6 });
  assert.deepEqual(r.values, { 1: 5, 2: 1, 3: 6 });
  assert.deepEqual(source, { organ: 1, bone: 4 }, "the source's classes are not changed in place");
});

test("next values and adding a class", () => {
  assert.equal(nextClassValue({}), 1);
  assert.equal(nextClassValue({ a: 3, b: 1 }), 4);
  const classes = { a: 1 };
  assert.deepEqual(withClass(classes, "b"), { a: 1, b: 2 });
  assert.deepEqual(withClass(classes, "a"), { a: 1 });
  assert.deepEqual(classes, { a: 1 });
  assert.deepEqual(withClass({}, "constructor"), { constructor: 1 }, "names of Object.prototype are ordinary names");
});
