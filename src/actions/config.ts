import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { InputError } from "./io.ts";

/**
 * .github/gatehouse.json: what the workflows need to know that is neither a secret nor in a policy,
 * reviewed in PRs like any other config. `rollout` names the Hardhat networks of the staged rollout;
 * `txService` the Safe Transaction Service of a network, when it is not Safe's hosted one (a URL is
 * not a secret, and as one it would be masked out of the Safe link in the job summary).
 */
export const CONFIG_FILE = ".github/gatehouse.json";

export const GatehouseConfig = z
  .object({
    $comment: z.string().optional(),
    rollout: z.object({ testnet: z.string().min(1), mainnet: z.string().min(1) }).strict(),
    txService: z.record(z.string(), z.url()).default({}),
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
