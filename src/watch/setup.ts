import type { Setup } from "../pipeline/setup.ts";
import { listProposals } from "../records/proposal.ts";
import { eip1193Rpc, type Rpc } from "./rpc.ts";
import { batchingHttpRpc } from "./rpc-batch.ts";
import type { WatcherOptions } from "./watcher.ts";

/**
 * Watcher options from a pipeline Setup (imperative shell): the network's JSON-RPC endpoint, the
 * deployment record, the proposal records, the immutable references of compiled contracts and the
 * policy's confirmations. Callers add sinks and the ledger.
 */
export async function rpcOf(setup: Setup, opts: { timeoutMs?: number } = {}): Promise<Rpc> {
  const config = setup.ctx.connection.networkConfig;
  if (config.type === "http") return batchingHttpRpc(await config.url.getUrl(), { timeoutMs: opts.timeoutMs });
  return eip1193Rpc(setup.ctx.connection.provider as never);
}

export async function watcherOptions(setup: Setup, opts: { rpc?: Rpc } = {}): Promise<Omit<WatcherOptions, "sinks" | "ledger">> {
  return {
    rpc: opts.rpc ?? (await rpcOf(setup)),
    network: setup.ctx.network,
    deployment: setup.deployment,
    records: () => listProposals(setup.root, setup.ctx.network).map((p) => p.record),
    confirmations: setup.policy.watcher.confirmations,
    immutableReferences: async (contract) => (await setup.ctx.readArtifact(contract)).immutableReferences,
  };
}
