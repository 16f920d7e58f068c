import { spawnSync } from "node:child_process";
import path from "node:path";
import { GatehouseError } from "../errors.ts";

/**
 * Build outputs a branch committed (force-added despite .gitignore). Hardhat trusts its compile cache
 * (`cache/compile-cache.json`): when an entry's job hash matches the current sources and the files it
 * names exist, it does not compile and leaves the artifacts and build info in place. A branch can commit
 * a cache entry for its real sources that points at forged artifacts (a benign contract's build), and
 * `check` would then audit the forged build instead of the sources (in a checkout at a predictable path,
 * such as a CI runner's). Build outputs are never inputs: a tracked one is refused.
 */
export function trackedBuildOutputs(projectRoot: string, dirs: string[]): string[] {
  const rel = dirs.map((d) => path.relative(projectRoot, d)).filter((d) => d !== "" && !d.startsWith(".."));
  if (rel.length === 0) return [];
  const r = spawnSync("git", ["ls-files", "-z", "--", ...rel], { cwd: projectRoot, encoding: "utf8" });
  // Not a git checkout (or no git): nothing can be tracked there.
  if (r.status !== 0) return [];
  return r.stdout.split("\0").filter(Boolean).sort();
}

/** Refuses (GH263) when git tracks a file under the build output folders of the project. */
export function refuseTrackedBuildOutputs(projectRoot: string, dirs: string[]): void {
  const files = trackedBuildOutputs(projectRoot, dirs);
  if (files.length === 0) return;
  throw new GatehouseError("BUILD_OUTPUT_TRACKED", { count: files.length, files: files.slice(0, 5).join(", ") + (files.length > 5 ? ", ..." : "") }, { details: { files } });
}
