import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { actor, connect, type Actor, type ChainContext } from "../../src/chain/context.ts";
import { loadPolicy } from "../../src/policy/load.ts";
import type { Policy } from "../../src/policy/schema.ts";
import { loadSetup, type Setup } from "../../src/pipeline/setup.ts";
import { deployGovernance } from "../../deploy/governance.ts";

export const PROJECT_ROOT = path.resolve(import.meta.dirname, "../..");

const git = (...args: string[]) => execFileSync("git", args, { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
/** The commit under test: records are staged from it, and verify and sign build it. */
export const HEAD = git("rev-parse", "HEAD");
/**
 * The branch this checkout is on stands in for the protected branch (main in CI; a helper's branch in
 * its worktree). The product's default stays `main`; only tests point it here.
 */
export const TEST_PROTECTED_BRANCH = ((b) => (b === "HEAD" ? "main" : b))(git("rev-parse", "--abbrev-ref", "HEAD"));
/** What `deployed()` sets as `setup.source`: the project's checkout, its branch, its HEAD. */
export const TEST_SOURCE = { repoRoot: PROJECT_ROOT, protectedBranch: TEST_PROTECTED_BRANCH, commit: HEAD };

/** A scratch workspace (policies/, deployments/, proposals/) so tests never touch the repository's records. */
export function workspace(policyEdit?: (yaml: string) => string): string {
  const root = mkdtempSync(path.join(tmpdir(), "gatehouse-test-"));
  mkdirSync(path.join(root, "policies"), { recursive: true });
  const src = path.join(PROJECT_ROOT, "policies/default.yaml");
  if (policyEdit) writeFileSync(path.join(root, "policies/default.yaml"), policyEdit(readFileSync(src, "utf8")));
  else copyFileSync(src, path.join(root, "policies/default.yaml"));
  return root;
}

export interface Actors {
  deployer: Actor;
  owners: [Actor, Actor, Actor];
  guardian: Actor;
  user: Actor;
  outsider: Actor;
}

export interface Deployed {
  ctx: ChainContext;
  root: string;
  policy: Policy;
  setup: Setup;
  actors: Actors;
  close(): Promise<void>;
}

/**
 * A fresh in-process Hardhat chain with the governance topology deployed from the (optionally edited)
 * default policy. Real EVM, real Safe 1.5.0 and TimelockController contracts.
 */
export async function deployed(policyEdit?: (yaml: string) => string): Promise<Deployed> {
  const root = workspace(policyEdit);
  const ctx = await connect("default");
  const policy = loadPolicy(root, "default");
  const a = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((i) => actor(ctx, `account:${i}`, `account ${i}`)));
  await deployGovernance({ ctx, root, policy, deployer: a[0]! });
  const setup: Setup = { ...loadSetup(ctx, root, policy), source: TEST_SOURCE };
  return {
    ctx,
    root,
    policy,
    setup,
    actors: { deployer: a[0]!, owners: [a[1]!, a[2]!, a[3]!], guardian: a[4]!, user: a[5]!, outsider: a[6]! },
    close: () => ctx.close(),
  };
}

/** Point one governed proxy of the policy at another target contract (e.g. an unsafe fixture). */
export function withTarget(name: "vault" | "registry", contract: string): (yaml: string) => string {
  const current = name === "vault" ? "contract: VaultV2" : "contract: RegistryV2";
  return (yaml) => yaml.replace(current, `contract: ${contract}`);
}
