import { execFileSync } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "./fixture.ts";

/**
 * A throw-away GitHub-like repository for running the workflows end to end: a bare `origin`, a `dev`
 * clone where the test makes commits and pushes them (as developers and merges do), and `runner`, the
 * checkout the workflow harness runs jobs in. The project's files are copied from the working tree
 * (tracked and untracked, minus what .gitignore excludes); node_modules is a symlink.
 */
export interface WorkflowRepo {
  root: string;
  origin: string;
  dev: string;
  runner: string;
  git(cwd: string, ...args: string[]): string;
  /** Commit everything in `dev` and push it to origin as `branch`; returns the commit sha. */
  commitAndPush(message: string, branch?: string): string;
  /** The runner's checkout of `sha` (on `branch` when given, as actions/checkout does for branch events), cleaned like actions/checkout (build output kept, see below). */
  checkout(sha: string, branch?: string): void;
  /** A second checkout of `sha` at `dir` inside the runner's workspace (e.g. the PR audit's `.base`), kept between jobs like the main one. */
  checkoutAt(dir: string, sha: string): string;
  /** origin's head of `branch`. */
  head(branch?: string): string;
  editDev(file: string, edit: (text: string) => string): void;
}

const AUTHOR = ["-c", "user.name=Gatehouse Test", "-c", "user.email=test@example.invalid"];

export function createWorkflowRepo(prepare: (dev: string) => void): WorkflowRepo {
  const root = mkdtempSync(path.join(tmpdir(), "gatehouse-workflows-"));
  const origin = path.join(root, "origin.git");
  const dev = path.join(root, "dev");
  const runner = path.join(root, "runner");
  const git = (cwd: string, ...args: string[]) => execFileSync("git", [...AUTHOR, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString().trim();

  mkdirSync(dev);
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: PROJECT_ROOT })
    .toString()
    .split("\0")
    .filter((f) => f && !f.startsWith("proposals/") && !f.startsWith("deployments/"));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dev, f)), { recursive: true });
    try {
      copyFileSync(path.join(PROJECT_ROOT, f), path.join(dev, f));
    } catch {
      // A file another change deleted from the working tree in the meantime.
    }
  }
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(dev, "node_modules"));
  prepare(dev);
  git(root, "init", "-q", "--bare", "-b", "main", origin);
  git(dev, "init", "-q", "-b", "main");
  // .gitignore's `node_modules/` matches directories only, not the symlink that stands for it here.
  appendFileSync(path.join(dev, ".git/info/exclude"), "node_modules\n");
  git(dev, "remote", "add", "origin", origin);
  git(dev, "add", "-A");
  git(dev, "commit", "-q", "-m", "initial");
  git(dev, "push", "-q", "origin", "main");
  git(root, "clone", "-q", origin, runner);
  appendFileSync(path.join(runner, ".git/info/exclude"), "node_modules\n.base\n");
  symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(runner, "node_modules"));

  return {
    root,
    origin,
    dev,
    runner,
    git,
    commitAndPush(message, branch = "main") {
      git(dev, "add", "-A");
      git(dev, "commit", "-q", "--allow-empty", "-m", message);
      git(dev, "push", "-q", "-f", "origin", `HEAD:${branch}`);
      return git(dev, "rev-parse", "HEAD");
    },
    checkout(sha, branch) {
      git(runner, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*");
      if (branch) git(runner, "checkout", "-q", "-f", "-B", branch, sha);
      else git(runner, "checkout", "-q", "-f", "--detach", sha);
      // actions/checkout cleans the workspace (git clean -ffdx). The compiler's output (artifacts/,
      // cache/) is kept between jobs to save the compile time; node_modules stands for `npm ci`.
      // Second checkouts (.base) are kept too, as their own repositories, cleaned by checkoutAt.
      git(runner, "clean", "-q", "-ffdx", "-e", "node_modules", "-e", "artifacts", "-e", "cache", "-e", ".base");
    },
    checkoutAt(dir, sha) {
      const target = path.join(runner, dir);
      if (!existsSync(target)) {
        git(root, "clone", "-q", origin, target);
        appendFileSync(path.join(target, ".git/info/exclude"), "node_modules\n");
        symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(target, "node_modules"));
      }
      git(target, "fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*");
      git(target, "checkout", "-q", "-f", "--detach", sha);
      git(target, "clean", "-q", "-ffdx", "-e", "node_modules", "-e", "artifacts", "-e", "cache");
      return git(target, "rev-parse", "HEAD");
    },
    head(branch = "main") {
      return git(origin, "rev-parse", branch);
    },
    editDev(file, edit) {
      const p = path.join(dev, file);
      writeFileSync(p, edit(readFileSync(p, "utf8")));
    },
  };
}
