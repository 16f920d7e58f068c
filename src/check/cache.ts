import { createHash, randomBytes } from "node:crypto";
import { MODULE_EXT, packageRoot } from "../package-root.ts";
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import type { ValidationRunData } from "@openzeppelin/upgrades-core";
import type { CompilationUnit } from "./build.ts";

/**
 * Persistent caches of `check`'s pure work, so that a warm `check` costs little more than the compile:
 *  - `validations`: upgrades-core's `validate()` run over one build unit. `check` cannot reuse
 *    hardhat-upgrades' cache: it validates the unit with the project's inline unsafe-allow NatSpec
 *    removed, so its runs differ from the plugin's.
 *  - `results`: the audits of a whole run, keyed by everything they are computed from (build units,
 *    chain facts, artifacts, policy rules; see pipeline/check.ts).
 *
 * Every key covers the exact bytes of the build-info files involved (sha256, `contentHash`) and
 * Gatehouse's own code that computes the value (the sources of src/check/, src/pipeline/check.ts and
 * src/plan/bytecode.ts, hashed, plus Gatehouse's and upgrades-core's versions): any change of input or of
 * the code misses the cache. A value is stored only after it was computed without error.
 *
 * The caches live in the user's cache directory, never in the project: a branch under review can commit
 * files into the project (a cache entry claiming its build is clean) but cannot write to the reviewer's
 * or CI runner's home. Entries are written atomically (temporary file, then rename); one that cannot be
 * read or does not name its own key is ignored and recomputed.
 */
export interface JsonStore<T> {
  get(key: string): T | undefined;
  put(key: string, value: T): void;
}

export type ValidationStore = JsonStore<ValidationRunData>;

export interface CheckCache {
  validations: ValidationStore;
  results: JsonStore<object>;
}

/** Bump when the meaning of a stored entry changes in a way the hashed sources do not show. */
const FORMAT = 2;
/** Entries kept per store; the oldest beyond this are removed on write. */
const MAX_ENTRIES = 256;

let codeId: string | undefined;

/** The code a cached value depends on, besides its inputs (computed once per process). */
export function codeIdentity(): string {
  if (codeId) return codeId;
  const hash = createHash("sha256").update(`format ${FORMAT}\0`);
  const require = createRequire(import.meta.url);
  const src = path.join(import.meta.dirname, "..");
  for (const pkg of [path.join(packageRoot(), "package.json"), require.resolve("@openzeppelin/upgrades-core/package.json")]) {
    const { name, version } = JSON.parse(readFileSync(pkg, "utf8")) as { name: string; version: string };
    hash.update(`${name}@${version}\0`);
  }
  const files = [
    ...readdirSync(import.meta.dirname).filter((f) => f.endsWith(MODULE_EXT)).sort().map((f) => path.join(import.meta.dirname, f)),
    path.join(src, `pipeline/check${MODULE_EXT}`),
    path.join(src, `plan/bytecode${MODULE_EXT}`),
  ];
  for (const file of files) hash.update(path.relative(src, file)).update("\0").update(readFileSync(file)).update("\0");
  return (codeId = hash.digest("hex"));
}

/** sha256 of the code identity and a JSON-serializable description of the inputs. */
export function cacheKey(kind: string, inputs: unknown): string {
  return createHash("sha256").update(`${codeIdentity()}\0${kind}\0`).update(JSON.stringify(inputs)).digest("hex");
}

/** The cache key of a unit's validation run; undefined for a unit not loaded from files (no content hash). */
export function validationKey(unit: CompilationUnit): string | undefined {
  if (!unit.contentHash) return undefined;
  return cacheKey("validation", { unit: unit.contentHash, solc: unit.solcLongVersion });
}

/** $GATEHOUSE_CACHE_DIR, else $XDG_CACHE_HOME/gatehouse, else ~/.cache/gatehouse. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GATEHOUSE_CACHE_DIR) return env.GATEHOUSE_CACHE_DIR;
  return path.join(env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "gatehouse");
}

/** A store of JSON objects under `dir`/`name`. Failures to read or write only cost a recomputation. */
export function diskStore<T extends object>(name: string, dir: string = defaultCacheDir()): JsonStore<T> {
  const root = path.join(dir, name);
  const file = (key: string) => path.join(root, `${key}.json`);
  return {
    get(key) {
      try {
        const entry = JSON.parse(readFileSync(file(key), "utf8")) as { key?: unknown; value?: unknown };
        if (entry.key !== key || !entry.value || typeof entry.value !== "object") return undefined;
        return entry.value as T;
      } catch {
        return undefined;
      }
    },
    put(key, value) {
      try {
        mkdirSync(root, { recursive: true });
        const tmp = path.join(root, `.${key}.${randomBytes(6).toString("hex")}.tmp`);
        writeFileSync(tmp, JSON.stringify({ key, value }));
        renameSync(tmp, file(key));
        const entries = readdirSync(root).filter((f) => f.endsWith(".json"));
        if (entries.length > MAX_ENTRIES) {
          const byAge = entries.map((f) => ({ f, t: statSync(path.join(root, f)).mtimeMs })).sort((a, b) => a.t - b.t);
          for (const { f } of byAge.slice(0, entries.length - MAX_ENTRIES)) rmSync(path.join(root, f), { force: true });
        }
      } catch {
        // A read-only or full cache directory makes check slower, never wrong.
      }
    },
  };
}

/** Both stores of `check` under `dir`. */
export function diskCheckCache(dir: string = defaultCacheDir()): CheckCache {
  return { validations: diskStore("check-validations", dir), results: diskStore("check-results", dir) };
}
