import { buildAtCommit } from "../build/at-commit.ts";
import type { Setup } from "../pipeline/setup.ts";
import { listProposals } from "../records/proposal.ts";
import type { BuildTarget } from "./facts.ts";
import { GatehouseError } from "../errors.ts";
import { monitorDefs } from "./monitors.ts";
import { eip1193Rpc, httpRpc, rpcOrigin, type Endpoint, type Rpc } from "./rpc.ts";
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

/**
 * The network's endpoint followed by the policy's `watcher.fallbackRpcs`, each labelled by its origin
 * only. Single when the policy lists none.
 */
export async function endpointsOf(setup: Setup, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Endpoint[]> {
  const config = setup.ctx.connection.networkConfig;
  const first: Endpoint = config.type === "http" ? await (async () => { const url = await config.url.getUrl(); return { origin: rpcOrigin(url), rpc: batchingHttpRpc(url, { timeoutMs: opts.timeoutMs }) }; })() : { origin: "in-process", rpc: eip1193Rpc(setup.ctx.connection.provider as never) };
  const env = opts.env ?? process.env;
  const rest = (setup.policy.watcher.fallbackRpcs ?? []).map((f, index): Endpoint => {
    const url = "url" in f ? f.url : env[f.urlEnv];
    if (!url) throw new GatehouseError("RPC_ENV_MISSING", { file: `policies/${setup.ctx.network}.yaml`, index, env: "urlEnv" in f ? f.urlEnv : "" });
    // Single calls, not batches: a fallback is used when things already go wrong.
    return { origin: rpcOrigin(url), rpc: httpRpc(url, { timeoutMs: opts.timeoutMs }) };
  });
  return [first, ...rest];
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
  const endpoints = opts.rpc ? undefined : await endpointsOf(setup);
  return {
    rpc: opts.rpc ?? endpoints![0]!.rpc,
    // `endpoints` only when the policy gives several, so a caller that swaps `rpc` alone still gets its rpc.
    ...(endpoints && endpoints.length > 1 ? { endpoints } : {}),
    ...(endpoints ? { rpcOrigin: endpoints[0]!.origin } : {}),
    monitors: monitorDefs(setup.policy, Object.fromEntries(Object.entries(setup.deployment.proxies).map(([k, v]) => [k, v.address]))),
    monitorEveryBlocks: setup.policy.watcher.monitorEveryBlocks ?? 1,
    network: setup.ctx.network,
    deployment: setup.deployment,
    records: () => listProposals(setup.root, setup.ctx.network).map((p) => p.record),
    confirmations: setup.policy.watcher.confirmations,
    policy: setup.policy,
    buildTarget: buildTargetOf(setup, opts.build),
  };
}
