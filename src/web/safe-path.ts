// Path rules of the web server: a client names files only relative to a root the server was
// started with. Absolute paths, '..' segments, NUL bytes and symlinks that lead out of the root
// are refused; the check is on the real path, so a link inside the root that points elsewhere fails.
import { existsSync, realpathSync } from "node:fs";
import path from "node:path";
import { HttpError } from "./http.js";

/** Resolves `relative` inside `root`; the result exists and its real path lies under the root's. */
export function resolveInside(root: string, relative: string): string {
  const target = checkedJoin(root, relative);
  if (!existsSync(target)) throw new HttpError(404, `${relative}: not found`);
  const real = realpathSync(target);
  if (!isUnder(realpathSync(root), real)) throw new HttpError(403, `${relative}: leads outside the served folder`);
  return real;
}

/**
 * A path to write under `root`: the same rules, for a file that may not exist yet. Its nearest
 * existing ancestor must really lie under the root (no symlinked folder out of it), and an
 * existing file there must not be a symlink.
 */
export function writableInside(root: string, relative: string): string {
  const target = checkedJoin(root, relative);
  const realRoot = realpathSync(root);
  let ancestor = path.dirname(target);
  while (!existsSync(ancestor)) ancestor = path.dirname(ancestor);
  if (!isUnder(realRoot, realpathSync(ancestor)))
    throw new HttpError(403, `${relative}: leads outside the served folder`);
  if (
    existsSync(target) &&
    realpathSync(target) !== path.join(realpathSync(path.dirname(target)), path.basename(target))
  )
    throw new HttpError(403, `${relative}: is a symbolic link`);
  return target;
}

function checkedJoin(root: string, relative: string): string {
  if (typeof relative !== "string" || relative.length === 0) throw new HttpError(400, "a relative path is required");
  if (relative.includes("\0")) throw new HttpError(400, "path contains a NUL byte");
  if (path.isAbsolute(relative) || /^[A-Za-z]:/.test(relative) || relative.startsWith("\\"))
    throw new HttpError(400, `${relative}: absolute paths are not accepted`);
  const parts = relative.split(/[\\/]+/);
  if (parts.some((p) => p === "..")) throw new HttpError(400, `${relative}: '..' is not accepted`);
  return path.join(root, ...parts.filter((p) => p !== "" && p !== "."));
}

function isUnder(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}
