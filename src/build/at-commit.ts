import { execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { GatehouseError } from "../errors.ts";
import { refuseTrackedBuildOutputs } from "../check/tracked-outputs.ts";
import type { RuntimeArtifact } from "../plan/bytecode.ts";
import { immutableDeclarations } from "./immutables.ts";
import { checkCommitRef, checkPinnedCompiler, pickTarget, type BuiltArtifact, type PinnedCompiler, type TargetLookup } from "./target.ts";

const execFileAsync = promisify(execFile);

/**
 * The build of the project as it was at a commit of the protected branch: what `verify`, `sign` and the
 * watcher compare on-chain code with. The commit is a claim from a record, so it is checked first (a full
 * SHA reachable from the protected branch), then built without trusting anything of the caller's:
 * - the sources come from `git archive`, not a working tree, so nothing uncommitted leaks in;
 * - the commit's own hardhat.config.ts runs, with the verifier's installed packages, and with an
 *   allowlisted environment (no keys, tokens, RPC URLs, `GATEHOUSE_*`, and a scratch HOME so Hardhat's
 *   keystore and global config are out of reach): a config that needs a secret or the network fails;
 * - the build is asynchronous, so a verifier's idle HTTP keep-alive sockets to the node stay open;
 * - its compiler and settings must be the policy's pinned ones.
 * Builds are cached per commit (a commit never changes), in-process and in `<cacheDir>/<commit>`.
 */
export interface CommitBuildOptions {
  /** The git repository (its .git holds the commit and the protected branch). */
  repoRoot: string;
  commit: string;
  /** The branch every buildable commit must be reachable from (default `main`). */
  protectedBranch?: string;
  /**
   * False only for `stage`, which deploys the build of the commit it stands on (a feature branch on a dev
   * chain, too): verify, sign and the watcher always require the protected branch.
   */
  requireProtected?: boolean;
  pinned: PinnedCompiler;
  /** Where finished builds are kept; default `<repoRoot>/.gatehouse/builds`. */
  cacheDir?: string;
  /** The installed packages the build runs with; default `<repoRoot>/node_modules`. */
  nodeModules?: string;
  /** Told when a build actually runs (a cache miss takes tens of seconds): a terminal shows it. */
  progress?: (line: string) => void;
}

export interface CommitBuild {
  commit: string;
  /** The policy's target contract, only from the project's own sources (`contracts/`). */
  target(contract: string): TargetLookup;
}

/** Environment variables a build may see; everything else (keys, tokens, RPC URLs) is withheld. */
const ENV_ALLOWLIST = ["PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT"];

interface LoadedBuild {
  artifacts: BuiltArtifact[];
  units: { solcVersion: string; settings: unknown }[];
}

const loaded = new Map<string, Promise<LoadedBuild>>();

export async function buildAtCommit(opts: CommitBuildOptions): Promise<CommitBuild> {
  const commit = checkCommitRef(opts.commit);
  const key = `${path.resolve(opts.repoRoot)}\0${commit}\0${opts.requireProtected === false ? "any" : (opts.protectedBranch ?? "main")}`;
  let p = loaded.get(key);
  if (!p) {
    p = load(opts, commit);
    // A failed build is not kept: the next caller tries again (a transient git or disk failure).
    p.catch(() => loaded.delete(key));
    loaded.set(key, p);
  }
  const { artifacts, units } = await p;
  const pinProblem = checkPinnedCompiler(units, opts.pinned);
  if (pinProblem) throw new GatehouseError("BUILD_NOT_PINNED", { commit, reason: pinProblem });
  const dir = commitBuildDir(opts, commit);
  return {
    commit,
    target: (contract) => {
      const t = pickTarget(artifacts, contract, commit);
      return t.ok ? { ok: true, artifact: withImmutableNames(t.artifact, path.join(dir, "artifacts", "build-info")) } : t;
    },
  };
}

/** The cache folder of a commit's finished build. */
export function commitBuildDir(opts: Pick<CommitBuildOptions, "repoRoot" | "cacheDir">, commit: string): string {
  return path.join(opts.cacheDir ?? path.join(opts.repoRoot, ".gatehouse", "builds"), commit);
}

async function load(opts: CommitBuildOptions, commit: string): Promise<LoadedBuild> {
  if (opts.requireProtected !== false) await assertReachable(opts.repoRoot, commit, opts.protectedBranch ?? "main");
  const done = commitBuildDir(opts, commit);
  // A finished build is reused only if this machine made it: one that git tracks came with a branch (a
  // force-added .gatehouse/builds/<commit>) and could hold any artifacts, so it is refused (GH263).
  refuseTrackedBuildOutputs(path.dirname(done), [done]);
  if (!existsSync(path.join(done, "complete"))) {
    const started = performance.now();
    opts.progress?.(`building commit ${commit.slice(0, 12)} in a clean checkout (git archive, hardhat build, no secrets)...`);
    await buildInto(opts, commit, done);
    opts.progress?.(`built commit ${commit.slice(0, 12)} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return { artifacts: readArtifacts(path.join(done, "artifacts")), units: readBuildInfos(path.join(done, "artifacts", "build-info")) };
}

/** True when `branch` (local, or its origin/ remote-tracking ref) contains `commit`. */
export async function commitOnBranch(repoRoot: string, commit: string, branch: string): Promise<boolean> {
  return assertReachable(repoRoot, commit, branch).then(
    () => true,
    () => false,
  );
}

/** Refuse a commit the protected branch does not contain: its sources were never reviewed. */
async function assertReachable(repoRoot: string, commit: string, branch: string): Promise<void> {
  const git = (...args: string[]) => execFileAsync("git", args, { cwd: repoRoot });
  try {
    await git("cat-file", "-e", `${commit}^{commit}`);
  } catch {
    throw new GatehouseError("COMMIT_NOT_PROTECTED", { commit, branch, reason: "the repository does not have this commit (fetch it first)" });
  }
  for (const ref of [`refs/heads/${branch}`, `refs/remotes/origin/${branch}`]) {
    try {
      await git("rev-parse", "--verify", "--quiet", ref);
    } catch {
      continue;
    }
    try {
      await git("merge-base", "--is-ancestor", commit, ref);
      return;
    } catch {
      // Not reachable from this ref; try the remote-tracking one (CI clones often have only that).
    }
  }
  throw new GatehouseError("COMMIT_NOT_PROTECTED", { commit, branch, reason: `it is not an ancestor of ${branch} (nor of origin/${branch})` });
}

async function buildInto(opts: CommitBuildOptions, commit: string, done: string): Promise<void> {
  // The scratch folder sits beside the cache so that publishing the result is one rename.
  mkdirSync(path.dirname(done), { recursive: true });
  const scratch = mkdtempSync(path.join(path.dirname(done), ".build-"));
  const src = path.join(scratch, "src");
  const home = path.join(scratch, "home");
  try {
    mkdirSync(src);
    mkdirSync(home);
    const tar = path.join(scratch, "src.tar");
    await run("git", ["-C", opts.repoRoot, "archive", "--format=tar", "-o", tar, commit], process.env);
    await run("tar", ["-x", "-f", tar, "-C", src], process.env);
    const nodeModules = opts.nodeModules ?? path.join(opts.repoRoot, "node_modules");
    symlinkSync(nodeModules, path.join(src, "node_modules"), "dir");
    const env: NodeJS.ProcessEnv = { HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home, XDG_DATA_HOME: home, TMPDIR: scratch };
    for (const k of ENV_ALLOWLIST) if (process.env[k] !== undefined) env[k] = process.env[k];
    await run(process.execPath, [path.join(nodeModules, "hardhat/dist/src/cli.js"), "build", "--quiet", "--no-tests"], env, src);
    // Publish atomically: a reader sees a whole build or none.
    const staged = path.join(scratch, "out");
    mkdirSync(staged);
    renameSync(path.join(src, "artifacts"), path.join(staged, "artifacts"));
    writeFileSync(path.join(staged, "complete"), `${commit}\n`);
    rmSync(done, { recursive: true, force: true });
    renameSync(staged, done);
  } catch (e) {
    if (e instanceof GatehouseError) throw e;
    throw new GatehouseError("BUILD_AT_COMMIT_FAILED", { commit, reason: (e as Error).message });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Run a process without blocking the event loop; its last lines of output explain a failure. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (b: Buffer) => (tail = (tail + b.toString()).slice(-8000));
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${path.basename(cmd)} exited with ${code}: ${lastLines(tail)}`));
    });
  });
}

/** The error line of a failed tool, with the line after it (Hardhat prints the cause there). */
function lastLines(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  const i = lines.findIndex((l) => /error/i.test(l));
  return (i >= 0 ? lines.slice(i, i + 2) : lines.slice(-2)).join(" ") || "(no output)";
}

/** The artifact with the names of its immutables, read from the build info that produced it. */
function withImmutableNames(artifact: BuiltArtifact, buildInfoDir: string): BuiltArtifact {
  const ids = Object.keys(artifact.immutableReferences ?? {});
  const file = artifact.buildInfoId ? path.join(buildInfoDir, `${artifact.buildInfoId}.output.json`) : undefined;
  if (ids.length === 0 || !file || !existsSync(file)) return artifact;
  return { ...artifact, immutableNames: immutableDeclarations(JSON.parse(readFileSync(file, "utf8")), ids) };
}

function readArtifacts(dir: string): BuiltArtifact[] {
  const out: BuiltArtifact[] = [];
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".json") || entry.parentPath.includes("build-info")) continue;
    const json = JSON.parse(readFileSync(path.join(entry.parentPath, entry.name), "utf8")) as Partial<RuntimeArtifact & BuiltArtifact>;
    if (typeof json.contractName !== "string" || typeof json.deployedBytecode !== "string" || typeof json.sourceName !== "string") continue;
    out.push(json as BuiltArtifact);
  }
  return out;
}

function readBuildInfos(dir: string): { solcVersion: string; settings: unknown }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.endsWith(".output.json"))
    .map((f) => {
      const info = JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { solcVersion: string; input: { settings: unknown } };
      return { solcVersion: info.solcVersion, settings: info.input.settings };
    });
}
