import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { CommandContext } from "../cli/main.ts";
import { GatehouseError } from "../errors.ts";
import { InputError, type ActionsIO } from "./io.ts";

/**
 * What every entry script in scripts/actions/ shares: the CLI's command context (so the scripts reuse
 * the CLI's chain and signer wiring instead of repeating it), secret masking, and one way to fail.
 */

/** Environment variables that carry secrets into a step; each is masked before anything is logged. */
export const SECRET_ENV = ["GATEHOUSE_SIGNER_KEY", "GATEHOUSE_RPC_URL", "SAFE_API_KEY", "GITHUB_TOKEN"] as const;

export function maskSecrets(io: ActionsIO, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of SECRET_ENV) io.secret(env[name]);
}

/** The CLI's CommandContext for `network`, so `withSetup` and `actorFor` from src/cli/chain.ts apply as-is. */
export function commandContext(io: ActionsIO, input: { network: string; root?: string; from?: string; txService?: string }): CommandContext {
  return {
    args: [],
    flags: { network: input.network, ...(input.from ? { from: input.from } : {}), ...(input.txService ? { "tx-service": input.txService } : {}) },
    network: input.network,
    root: input.root ?? process.cwd(),
    out: { json: false, log: (l) => io.log(l), print: (t) => io.log(t), result: () => {} },
  };
}

/**
 * The networks CI acts on: every `policies/<network>.yaml` with a committed `deployments/<network>.json`
 * (the in-process `default` network never qualifies). `only` (comma-separated or a JSON array) narrows
 * the list; naming a network that is not configured is an input error.
 */
export function configuredNetworks(root: string, only?: string): string[] {
  const dir = path.join(root, "policies");
  const all = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => f.slice(0, -".yaml".length))
        .filter((n) => n !== "default" && existsSync(path.join(root, "deployments", `${n}.json`)))
        .sort()
    : [];
  if (!only?.trim()) return all;
  const wanted = only.trim().startsWith("[") ? (JSON.parse(only) as string[]) : only.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = wanted.filter((n) => !all.includes(n));
  if (unknown.length) {
    throw new InputError(`network ${unknown.map((n) => `'${n}'`).join(", ")} is not configured (expected one of: ${all.join(", ") || "none"}; a network needs policies/<network>.yaml and deployments/<network>.json)`);
  }
  return wanted;
}

/** Runs an entry script's body; any failure becomes one clear core.setFailed message and an exit code. */
export async function runAction(io: ActionsIO, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof GatehouseError) io.fail(`${e.code}: ${e.message} (${e.explanation})`, e.exitCode);
    else if (e instanceof InputError) io.fail(e.message, e.exitCode);
    else io.fail(e instanceof Error ? e.message : String(e), 1);
  }
}
