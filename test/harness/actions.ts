import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * The `uses:` steps the harness emulates because the workflows pass data through them: artifacts
 * (check reports from the matrix legs to the PR-comment job) and the Actions cache (the watcher's
 * checkpoint between scheduled runs). Everything is kept under the harness's store directory:
 * artifacts per workflow run, cache entries across runs (immutable per key, like GitHub's).
 * Anything else (checkout, setup-node, ...) is recorded as skipped by the runner.
 */

export interface UsesContext {
  /** The `with:` inputs, already evaluated, as strings. */
  with: Record<string, string>;
  workspace: string;
  store: string;
  runId: number;
  /** The job token's scopes (another run's artifacts need actions: read). */
  permissions: Record<string, "read" | "write">;
  log(line: string): void;
  /** Registers a post step (run at the end of the job if it succeeded), like an action's `post:`. */
  post(fn: () => void): void;
}

export interface UsesResult {
  outputs: Record<string, string>;
  /** Set when the emulation fails the step (e.g. upload-artifact with if-no-files-found: error). */
  error?: string;
}

export type Emulation = (c: UsesContext) => UsesResult;

/** The action's `owner/name[/path]` without the `@ref`. */
export function actionName(uses: string): string {
  return uses.split("@")[0]!.toLowerCase();
}

function lines(value: string | undefined): string[] {
  return (value ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

function inside(workspace: string, p: string): string {
  const abs = path.resolve(workspace, p);
  const rel = path.relative(workspace, abs);
  if (rel.startsWith("..")) throw new Error(`path ${p} is outside the workspace`);
  return abs;
}

function safeName(name: string): string {
  return encodeURIComponent(name);
}

// ------------------------------------------------------------------ artifacts

const uploadArtifact: Emulation = (c): UsesResult => {
  const name = c.with.name || "artifact";
  const paths = lines(c.with.path);
  const found = paths.map((p) => inside(c.workspace, p)).filter((p) => existsSync(p));
  if (found.length === 0) {
    const mode = c.with["if-no-files-found"] || "warn";
    if (mode === "error") return { outputs: {}, error: `no files found at ${paths.join(", ")}` };
    c.log(`${mode === "ignore" ? "" : "warning: "}no files found at ${paths.join(", ")}; no artifact uploaded`);
    return { outputs: {} };
  }
  const dir = path.join(c.store, "runs", String(c.runId), "artifacts", safeName(name));
  if (existsSync(dir) && c.with.overwrite !== "true") return { outputs: {}, error: `an artifact named '${name}' already exists in this run` };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const p of found) {
    // A single directory uploads its contents; files keep their base names.
    if (found.length === 1 && statSync(p).isDirectory()) cpSync(p, dir, { recursive: true });
    else cpSync(p, path.join(dir, path.basename(p)), { recursive: true });
  }
  c.log(`uploaded artifact '${name}'`);
  return { outputs: { "artifact-id": name } };
};

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

const downloadArtifact: Emulation = (c): UsesResult => {
  // `run-id`: another workflow run's artifacts (e.g. a workflow_run reading the triggering run's report),
  // which GitHub serves only to a token with actions: read.
  const other = c.with["run-id"] && c.with["run-id"] !== String(c.runId) ? c.with["run-id"] : undefined;
  if (other && !c.permissions.actions) return { outputs: {}, error: "Resource not accessible by integration (downloading another run's artifacts needs actions: read)" };
  if (other && !c.with["github-token"]) return { outputs: {}, error: "run-id needs github-token" };
  const root = path.join(c.store, "runs", other ?? String(c.runId), "artifacts");
  const all = existsSync(root) ? readdirSync(root).map(decodeURIComponent).sort() : [];
  const name = c.with.name;
  const pattern = c.with.pattern ? globToRegExp(c.with.pattern) : undefined;
  const selected = name ? all.filter((n) => n === name) : all.filter((n) => !pattern || pattern.test(n));
  if (name && selected.length === 0) return { outputs: {}, error: `artifact '${name}' not found` };
  const dest = inside(c.workspace, c.with.path || ".");
  // One named artifact, or merge-multiple: the contents go straight into `path`; otherwise one folder each.
  const merge = Boolean(name) || c.with["merge-multiple"] === "true";
  for (const n of selected) cpSync(path.join(root, safeName(n)), merge ? dest : path.join(dest, n), { recursive: true });
  c.log(`downloaded ${selected.length} artifact(s): ${selected.join(", ") || "none"}`);
  return { outputs: { "download-path": dest } };
};

// ------------------------------------------------------------------ cache

interface CacheIndex {
  entries: { key: string; seq: number }[];
}

function cacheIndex(store: string): CacheIndex {
  const file = path.join(store, "cache", "index.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as CacheIndex) : { entries: [] };
}

function restore(c: UsesContext): { hit: boolean; matched?: string } {
  const key = c.with.key;
  if (!key) throw new Error("actions/cache: input 'key' is required");
  const index = cacheIndex(c.store);
  let matched = index.entries.find((e) => e.key === key)?.key;
  const exact = matched !== undefined;
  // restore-keys: newest entry whose key starts with the first prefix that matches anything.
  for (const prefix of exact ? [] : lines(c.with["restore-keys"])) {
    const candidates = index.entries.filter((e) => e.key.startsWith(prefix)).sort((a, b) => b.seq - a.seq);
    if (candidates.length) {
      matched = candidates[0]!.key;
      break;
    }
  }
  if (matched === undefined) {
    c.log(`cache not found for key ${key}`);
    return { hit: false };
  }
  const entry = path.join(c.store, "cache", safeName(matched));
  for (const p of lines(c.with.path)) {
    const from = path.join(entry, safeName(p));
    if (existsSync(from)) cpSync(from, inside(c.workspace, p), { recursive: true });
  }
  c.log(`cache restored from key ${matched}`);
  return { hit: exact, matched };
}

function save(c: UsesContext): void {
  const key = c.with.key;
  if (!key) throw new Error("actions/cache: input 'key' is required");
  const index = cacheIndex(c.store);
  if (index.entries.some((e) => e.key === key)) {
    c.log(`cache entry ${key} already exists (entries are immutable): not saved`);
    return;
  }
  const paths = lines(c.with.path).filter((p) => existsSync(inside(c.workspace, p)));
  if (paths.length === 0) {
    c.log(`cache: no files at ${c.with.path}: not saved`);
    return;
  }
  const entry = path.join(c.store, "cache", safeName(key));
  mkdirSync(entry, { recursive: true });
  for (const p of paths) cpSync(inside(c.workspace, p), path.join(entry, safeName(p)), { recursive: true });
  index.entries.push({ key, seq: Math.max(0, ...index.entries.map((e) => e.seq)) + 1 });
  writeFileSync(path.join(c.store, "cache", "index.json"), JSON.stringify(index, null, 2));
  c.log(`cache saved with key ${key}`);
}

const cacheRestore: Emulation = (c) => {
  const r = restore(c);
  return { outputs: { "cache-hit": String(r.hit), "cache-primary-key": c.with.key!, "cache-matched-key": r.matched ?? "" } };
};

const cacheSave: Emulation = (c) => {
  save(c);
  return { outputs: {} };
};

const cache: Emulation = (c) => {
  const r = restore(c);
  // actions/cache saves in its post step, unless the primary key was an exact hit.
  if (!r.hit) c.post(() => save(c));
  return { outputs: { "cache-hit": String(r.hit) } };
};

export const EMULATED: Record<string, Emulation> = {
  "actions/upload-artifact": uploadArtifact,
  "actions/download-artifact": downloadArtifact,
  "actions/cache": cache,
  "actions/cache/restore": cacheRestore,
  "actions/cache/save": cacheSave,
};
