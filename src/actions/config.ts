import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { GatehouseError } from "../errors.ts";
import { InputError } from "./io.ts";

/**
 * .github/gatehouse.json: what the workflows need to know that is neither a secret nor in a policy,
 * reviewed in PRs like any other config. `rollout` names the Hardhat networks of the staged rollout;
 * `txService` the Safe Transaction Service of a network, when it is not Safe's hosted one (a URL is
 * not a secret, and as one it would be masked out of the Safe link in the job summary).
 * `protectedBranch`: the only branch whose runs may stage, propose, sign or execute. `bot`: the login
 * whose PRs may change proposals/ and deployments/ (its own record commits). `readRpc`: read-only RPC
 * endpoints (network -> URL) for the PR audit and the watcher, which run without secrets; an endpoint
 * that can sign or must stay private is an environment secret instead. `auditSources`: the folders of
 * Solidity sources the PR audit takes from the PR (everything else comes from the base branch).
 */
export const CONFIG_FILE = ".github/gatehouse.json";

export const GatehouseConfig = z
  .object({
    $comment: z.string().optional(),
    rollout: z.object({ testnet: z.string().min(1), mainnet: z.string().min(1) }).strict(),
    txService: z.record(z.string(), z.url()).default({}),
    protectedBranch: z.string().regex(/^[\w./-]+$/, { message: "a branch name like main" }).default("main"),
    bot: z.string().min(1).default("github-actions[bot]"),
    readRpc: z.record(z.string(), z.url()).default({}),
    auditSources: z.array(z.string().regex(/^[\w-]+(\/[\w-]+)*$/, { message: "a repository-relative folder like contracts" })).min(1).default(["contracts"]),
  })
  .strict();
export type GatehouseConfig = z.infer<typeof GatehouseConfig>;

export function readConfig(root: string): GatehouseConfig {
  const file = path.join(root, CONFIG_FILE);
  if (!existsSync(file)) throw new InputError(`${CONFIG_FILE}: not found (it names the rollout's networks)`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new InputError(`${CONFIG_FILE}: not JSON (${(e as Error).message})`);
  }
  const parsed = GatehouseConfig.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${CONFIG_FILE}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}

/** The Transaction Service for `network`: the step's input, else GATEHOUSE_TX_SERVICE_URL, else the config's. */
export function txServiceFor(root: string, network: string, input: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (input) return input;
  if (env.GATEHOUSE_TX_SERVICE_URL) return env.GATEHOUSE_TX_SERVICE_URL;
  return existsSync(path.join(root, CONFIG_FILE)) ? readConfig(root).txService[network] : undefined;
}

/** The config when the file exists, else the defaults (a repository that never wrote one). */
export function readConfigOrDefaults(root: string): GatehouseConfig | undefined {
  return existsSync(path.join(root, CONFIG_FILE)) ? readConfig(root) : undefined;
}

/** The protected branch: `protectedBranch` in .github/gatehouse.json, default main. */
export function protectedBranch(root: string): string {
  return readConfigOrDefaults(root)?.protectedBranch ?? "main";
}

/**
 * Pure: whether a run on `ref` (GITHUB_REF) may `action` (stage, propose, sign, execute). Only a run
 * on refs/heads/<protected branch> may; a dispatch on any other branch, a tag or a PR ref may not.
 */
export function refVerdict(ref: string | undefined, branch: string): { ok: true } | { ok: false; ref: string } {
  return ref === `refs/heads/${branch}` ? { ok: true } : { ok: false, ref: ref || "(no GITHUB_REF)" };
}

/**
 * Fails loudly (GH260) inside Actions when this run is not on the protected branch. Outside Actions
 * (a developer at a terminal) there is no ref to judge and nothing is refused. The job's `if:` already
 * keeps such runs away; this is the second lock, in the script that holds the key.
 */
export function refuseUnlessProtectedRef(action: string, root: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): void {
  if (env.GITHUB_ACTIONS !== "true") return;
  const branch = protectedBranch(root);
  const v = refVerdict(env.GITHUB_REF, branch);
  if (!v.ok) throw new GatehouseError("REF_NOT_PROTECTED", { action, ref: v.ref, branch });
}
