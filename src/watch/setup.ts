import { buildAtCommit } from "../build/at-commit.ts";
import type { Setup } from "../pipeline/setup.ts";
import { listProposals } from "../records/proposal.ts";
import type { BuildTarget } from "./facts.ts";
import { eip1193Rpc, type Rpc } from "./rpc.ts";
import { batchingHttpRpc } from "./rpc-batch.ts";
import type { WatcherOptions } from "./watcher.ts";

/**
 * Watcher options from a pipeline Setup (imperative shell): the network's JSON-RPC endpoint, the
 * deployment record, the proposal records, the policy's governed contracts, the watcher's own build of
 * the protected branch and the policy's confirmations. Callers add sinks and the ledger.
 */
export async function rpcOf(setup: Setup, opts: { timeoutMs?: number } = {}): Promise<Rpc> {
  const config = setup.ctx.connection.networkConfig;
  if (config.type === "http") return batchingHttpRpc(await config.url.getUrl(), { timeoutMs: opts.timeoutMs });
  return eip1193Rpc(setup.ctx.connection.provider as never);
}

export interface BuildSource {
  /** The git repository whose protected branch holds the reviewed sources; default: the project root. */
  repoRoot?: string;
  /** Default: the policy's `protectedBranch`. */
  protectedBranch?: string;
}

/**
 * The policy's target built by the watcher itself at a commit of the protected branch (git archive, no
 * secrets, pinned compiler, cached per commit): neither CI artifacts nor the record's hashes are trusted.
 */
export function buildTargetOf(setup: Setup, source: BuildSource = {}): BuildTarget {
  return async (commit, contract) => {
    const build = await buildAtCommit({ repoRoot: source.repoRoot ?? setup.root, commit, protectedBranch: source.protectedBranch ?? setup.policy.protectedBranch, pinned: setup.policy.compiler });
    return build.target(contract);
  };
}

export async function watcherOptions(setup: Setup, opts: { rpc?: Rpc; build?: BuildSource } = {}): Promise<Omit<WatcherOptions, "sinks" | "ledger">> {
  return {
    rpc: opts.rpc ?? (await rpcOf(setup)),
    network: setup.ctx.network,
    deployment: setup.deployment,
    records: () => listProposals(setup.root, setup.ctx.network).map((p) => p.record),
    confirmations: setup.policy.watcher.confirmations,
    policy: setup.policy,
    buildTarget: buildTargetOf(setup, opts.build),
  };
}
