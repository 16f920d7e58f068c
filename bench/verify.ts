import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { actor, connect } from "../src/chain/context.ts";
import { deployGovernance } from "../deploy/governance.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { loadSetup, type Setup } from "../src/pipeline/setup.ts";
import { stage } from "../src/pipeline/stage.ts";
import { verify } from "../src/pipeline/verify.ts";
import { commitBuildDir } from "../src/build/at-commit.ts";
import type { Table } from "./table.ts";

/**
 * `verify` of a proposal at a commit (cold: the commit is built from `git archive`; warm: the build is
 * cached), beside a bare `hardhat build` of the same commit's sources. The gap is verify's own work
 * (protected-branch check, extraction, pin check, chain reads and comparisons).
 */
const ROOT = path.resolve(import.meta.dirname, "..");
const git = (...a: string[]) => execFileSync("git", a, { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}`))));
  });
}

const seconds = (ms: number) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`);

export async function verifyBenchmark(log: (line: string) => void): Promise<Table[]> {
  const head = git("rev-parse", "HEAD");
  const branch = ((b) => (b === "HEAD" ? "main" : b))(git("rev-parse", "--abbrev-ref", "HEAD"));
  const scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-verify-"));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HARDHAT_|GATEHOUSE_)/.test(k)));
  try {
    // Bare: the same sources, extracted the same way, built by Hardhat with nothing around it.
    const bare = path.join(scratch, "bare");
    mkdirSync(bare);
    execFileSync("git", ["-C", ROOT, "archive", "--format=tar", "-o", path.join(scratch, "src.tar"), head]);
    execFileSync("tar", ["-x", "-f", path.join(scratch, "src.tar"), "-C", bare]);
    symlinkSync(path.join(ROOT, "node_modules"), path.join(bare, "node_modules"), "dir");
    log("  bare hardhat build of the commit...");
    let t = performance.now();
    await run(process.execPath, [path.join(ROOT, "node_modules/hardhat/dist/src/cli.js"), "build", "--quiet", "--no-tests"], bare, env);
    const bareMs = performance.now() - t;

    // verify: a fresh worktree of the commit (its own build cache), a staged proposal on the in-process chain.
    const checkout = path.join(scratch, "checkout");
    git("worktree", "add", "--detach", "-q", checkout, head);
    symlinkSync(path.join(ROOT, "node_modules"), path.join(checkout, "node_modules"), "dir");
    const ws = path.join(scratch, "ws");
    mkdirSync(path.join(ws, "policies"), { recursive: true });
    copyFileSync(path.join(ROOT, "policies/default.yaml"), path.join(ws, "policies/default.yaml"));
    const ctx = await connect("default");
    try {
      const policy = loadPolicy(ws, "default");
      const deployer = await actor(ctx, "account:0", "deployer");
      await deployGovernance({ ctx, root: ws, policy, deployer });
      const setup: Setup = { ...loadSetup(ctx, ws, policy), source: { repoRoot: checkout, protectedBranch: branch, commit: head } };
      const staged = await stage({ setup, deployer });
      // stage deployed the commit's build, which it made itself: drop it, so the first verify builds.
      rmSync(commitBuildDir({ repoRoot: checkout }, head), { recursive: true, force: true });
      log("  verify at the commit (cold, then warm)...");
      t = performance.now();
      const cold = await verify({ setup, proposal: staged.proposal!.record.id });
      const coldMs = performance.now() - t;
      t = performance.now();
      const warm = await verify({ setup, proposal: staged.proposal!.record.id });
      const warmMs = performance.now() - t;
      if (!cold.verified || !warm.verified) throw new Error(`verify did not pass: ${cold.checks.filter((c) => !c.ok).map((c) => c.name).join(", ")}`);
      return [
        {
          title: `verify at a commit vs a bare hardhat build of it (${head.slice(0, 12)}, 2 proxies)`,
          columns: [{ header: "what" }, { header: "time", align: "right" }, { header: "vs bare build", align: "right" }],
          rows: [
            ["bare `hardhat build` of the commit", seconds(bareMs), "1.00×"],
            ["verify, commit not built yet", seconds(coldMs), `${(coldMs / bareMs).toFixed(2)}×`],
            ["verify, build cached", seconds(warmMs), `${(warmMs / bareMs).toFixed(2)}×`],
          ],
          notes: [`${cold.checks.length} checks; the bare build runs first, so the OS file cache favours verify slightly; the build runs in a child process with an allowlisted environment, so the RPC connection stays usable`],
        },
      ];
    } finally {
      await ctx.close();
      git("worktree", "remove", "--force", checkout);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
