import { actor, connect, type Actor, type ChainContext } from "../chain/context.ts";
import { loadPolicy } from "../policy/load.ts";
import { loadSetup, type Setup } from "../pipeline/setup.ts";
import type { CommandContext } from "./main.ts";
import { notDeployed } from "../errors.ts";
import { apiKitFor, serviceTargetFromEnv } from "../safe/service-client.ts";

/** Connect to the command's network, run `fn`, and always close the connection. */
export async function withChain<T>(c: CommandContext, fn: (ctx: ChainContext) => Promise<T>): Promise<T> {
  // Validate the policy before connecting: a malformed file is exit 2 without touching the chain.
  loadPolicy(c.root, c.network);
  const ctx = await connect(c.network);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}

export async function withSetup<T>(c: CommandContext, fn: (setup: Setup) => Promise<T>): Promise<T> {
  return withChain(c, async (ctx) => {
    // A Safe Transaction Service, when named: --tx-service URL, GATEHOUSE_TX_SERVICE_URL, or SAFE_API_KEY (hosted).
    const target = serviceTargetFromEnv(c.flags["tx-service"] as string | undefined);
    const service = target.url || target.apiKey ? apiKitFor(ctx.chainId, target) : undefined;
    const setup = { ...loadSetup(ctx, c.root, undefined, service), ...(progressOn(c) ? { progress: progressOn(c) } : {}) };
    if ((await ctx.ethers.provider.getCode(setup.deployment.timelock.address)) === "0x") {
      const inProcess = ctx.connection.networkConfig.type === "edr-simulated";
      throw notDeployed(
        `the timelock ${setup.deployment.timelock.address} recorded in deployments/${c.network}.json`,
        c.network,
        inProcess
          ? "the in-process network starts empty for every command: use `npx hardhat node` with --network localhost, or `gatehouse demo`"
          : `run \`gatehouse deploy --network ${c.network}\` first`,
      );
    }
    return fn(setup);
  });
}

/** Progress lines on stderr when a person watches a terminal; none with --json or when piped (CI logs stay clean). */
export function progressOn(c: Pick<CommandContext, "out">, stream: { isTTY?: boolean; write(s: string): unknown } = process.stderr): ((line: string) => void) | undefined {
  return !c.out.json && stream.isTTY ? (line) => void stream.write(`${line}\n`) : undefined;
}

/**
 * Who acts: `--from account:N|0xaddr` (a key the node holds), else GATEHOUSE_SIGNER_KEY, else on a
 * Hardhat dev network the role's local default account.
 */
export function actorFor(c: CommandContext, ctx: ChainContext, role: string, devDefault: string | undefined): Promise<Actor> {
  const from = c.flags.from as string | undefined;
  if (from) return actor(ctx, from, role);
  if (process.env.GATEHOUSE_SIGNER_KEY || !ctx.isDevNetwork || !devDefault) return actor(ctx, undefined, role);
  return actor(ctx, devDefault, role);
}
