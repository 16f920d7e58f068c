import { buildAtCommit } from "../build/at-commit.ts";
import type { Setup } from "../pipeline/setup.ts";
import { listProposals } from "../records/proposal.ts";
import type { BuildTarget } from "./facts.ts";
import { GatehouseError } from "../errors.ts";
import { monitorDefs } from "./monitors.ts";
import { eip1193Rpc, httpRpc, rpcOrigin, type Endpoint, type Rpc } from "./rpc.ts";
import { batchingHttpRpc } from "./rpc-batch.ts";
import type { WatcherOptions } from "./watcher.ts";
import path from "node:path";
import { simulateProposal } from "../simulate/run.ts";
import { forkCache } from "../simulate/serve.ts";
import { topologyOf } from "./decide.ts";
import { policyRoleHolders } from "../pipeline/govern.ts";
import { operationIdOf } from "../proposal/derive.ts";
import { packetFile, readPacketEffects } from "./review-source.ts";
import { recordFromCalls, summarizeSimulation, type Simulator } from "./simulations.ts";

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

/**
 * The watcher's simulator (imperative shell): the pending operation's record (or, when nobody proposed
 * it, its on-chain calls) simulated on a fork of the current head, through a per-block cache of the fork
 * source shared by the simulations of one head; the result compared with the signer packet beside the record.
 */
export function simulatorOf(setup: Setup): Simulator {
  const cache = forkCache();
  const topology = topologyOf(setup.deployment, setup.ctx.network, { ...setup.policy, roleHolders: policyRoleHolders(setup) });
  return async (job) => {
    // The chain is the truth: a record whose batch is not the scheduled one is not what would execute.
    const recordIsBatch = job.record !== undefined && operationIdOf(job.record) === job.occurrence.operationId;
    const record = recordIsBatch ? job.record : recordFromCalls(job.occurrence, topology);
    if (!record) {
      return { phase: job.phase, status: "not-simulated", reason: "the operation was scheduled with schedule() (one call), not scheduleBatch, and there is no proposal record to simulate it from" };
    }
    try {
      const report = await simulateProposal(setup, record, { cache });
      const file = job.record ? packetFile(setup.root, setup.ctx.network, job.record.id) : undefined;
      // Named in the review relative to the project (the repository path reviewers know).
      const packet = file ? readPacketEffects(file, path.relative(setup.root, file)) : undefined;
      return summarizeSimulation(report, job.phase, recordIsBatch ? "record" : "calls", topology, packet);
    } catch (e) {
      return { phase: job.phase, status: "not-simulated", reason: `the simulation failed to run: ${(e as Error).message.split("\n")[0]}` };
    }
  };
}

export async function watcherOptions(setup: Setup, opts: { rpc?: Rpc; build?: BuildSource } = {}): Promise<Omit<WatcherOptions, "sinks" | "ledger">> {
  const endpoints = opts.rpc ? undefined : await endpointsOf(setup);
  const sim = setup.policy.watcher.simulate;
  return {
    ...(sim.enabled ? { simulate: { run: simulatorOf(setup), beforeEtaSeconds: sim.beforeEtaSeconds, concurrency: sim.concurrency } } : {}),
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
    policy: { ...setup.policy, roleHolders: policyRoleHolders(setup) },
    buildTarget: buildTargetOf(setup, opts.build),
  };
}
