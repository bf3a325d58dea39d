// Explicit lifetime for native tensors. The JS garbage collector cannot see libtorch memory,
// so loops should free what they create: tidy() frees every tensor made inside it except
// what it returns; keep() exempts a tensor. The addon's finalizer is only a safety net.

export interface Disposable {
  dispose(): void;
  readonly disposed: boolean;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor: it belongs to the innermost open scope, if any. */
export function track(item: Disposable): void {
  scopes.at(-1)?.add(item);
}

/** Removes a tensor from every open scope so that it survives them. */
export function keep<T extends Disposable>(item: T): T {
  for (const scope of scopes) scope.delete(item);
  return item;
}

function collect(value: unknown, into: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  // A typed array (a tensor's data copied out) holds no tensors: walking its millions of elements made
  // each sliding-window batch allocate and collect an array as large as the batch's output.
  if (ArrayBuffer.isView(value)) return;
  if ("dispose" in value && "disposed" in value) {
    into.add(value as Disposable);
    return;
  }
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
  for (const item of items) collect(item, into, depth + 1);
}

/**
 * Runs fn and disposes every tensor created during it, except the ones reachable from its
 * result (a tensor, or arrays, maps and plain objects of tensors), which move to the enclosing scope.
 * fn must be synchronous: an await inside would let other code's tensors into this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    scopes.pop();
    for (const item of scope) item.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error("tidy() needs a synchronous function");
  const kept = new Set<Disposable>();
  collect(result, kept);
  for (const item of scope) {
    if (kept.has(item)) scopes.at(-1)?.add(item);
    else item.dispose();
  }
  return result;
}

/** Disposes every tensor found in value (tensor, array, map or object of tensors). */
export function dispose(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found);
  for (const item of found) item.dispose();
}
