import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import hre from "hardhat";
import type { InterfaceAbi } from "ethers";
import type { Setup } from "../pipeline/setup.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { safeArtifact } from "../safe/infra.ts";
import { forkCache, httpEip1193, serveRpc, type Eip1193 } from "./serve.ts";
import { simulate, type SimulationReport } from "./simulate.ts";
import type { StorageLayout } from "./layout.ts";

/**
 * The shell around `simulate`: where the fork reads from (the network's RPC URL; for the in-process
 * network, that provider served over loopback HTTP), the pinned block (the source's latest unless
 * given), and the layouts and ABIs of the build.
 */
export interface SimulateOptions {
  blockNumber?: number;
  forkUrl?: string;
  /**
   * Answers of the fork source kept per pinned block (src/simulate/serve.ts), shared by the simulations
   * given the same cache; the fork then always reads through the loopback server, which counts requests.
   */
  cache?: ReturnType<typeof forkCache>;
}

export interface SimulationRun extends SimulationReport {
  /** JSON-RPC requests that reached the fork source (when it was served through loopback). */
  forkRequests?: number;
  /** Requests the fork made, cache hits included. */
  forkRequestsReceived?: number;
}

export async function simulateProposal(setup: Setup, record: ProposalRecord, opts: SimulateOptions = {}): Promise<SimulationRun> {
  const { ctx } = setup;
  const cfg = ctx.connection.networkConfig;
  const blockNumber = opts.blockNumber ?? (await ctx.ethers.provider.getBlockNumber());
  let served;
  if (opts.cache) {
    // The block's hash names its cache partition: a reorged block number never reads another block's answers.
    const hash = (await ctx.ethers.provider.getBlock(blockNumber))?.hash;
    const source: Eip1193 = opts.forkUrl ? httpEip1193(opts.forkUrl) : cfg.type === "http" ? httpEip1193(await cfg.url.getUrl()) : (ctx.connection.provider as unknown as Eip1193);
    served = await serveRpc(source, "127.0.0.1", hash ? { cache: opts.cache.at(blockNumber, hash), onHit: opts.cache.hit } : {});
  } else if (!opts.forkUrl && cfg.type !== "http") served = await serveRpc(ctx.connection.provider as unknown as Eip1193);
  try {
    const forkUrl = served?.url ?? opts.forkUrl ?? (await (cfg as { url: { getUrl(): Promise<string> } }).url.getUrl());
    const proxies = Object.fromEntries(
      setup.policy.contracts
        .map((c) => [c.name, c.proxy ?? setup.deployment.proxies[c.name]?.address, c.kind] as const)
        .filter(([, a]) => !!a)
        .map(([name, address, kind]) => [name, { address: address!, kind }]),
    );
    const layouts = loadLayouts();
    const artifacts = new Map<string, { abi: InterfaceAbi; sourceName: string } | undefined>();
    const artifact = async (name: string) => {
      if (!artifacts.has(name)) artifacts.set(name, await ctx.readArtifact(name).then((a) => a as unknown as { abi: InterfaceAbi; sourceName: string }).catch(() => undefined));
      return artifacts.get(name);
    };
    const names = [...new Set(["TimelockController", ...record.operations.flatMap((o) => [o.contract, o.oldContract ?? ""]), ...setup.policy.contracts.map((c) => c.contract)].filter(Boolean))];
    for (const n of names) await artifact(n);
    const report = await simulate({
      network: ctx.network,
      chainId: ctx.chainId,
      policy: setup.policy,
      record,
      safe: setup.deployment.safe.address,
      timelock: setup.deployment.timelock.address,
      proxies,
      forkUrl,
      blockNumber,
      layoutOf: (name) => {
        const a = artifacts.get(name);
        return a ? layouts.get(`${a.sourceName}:${name}`) : undefined;
      },
      abiOf: (name) => artifacts.get(name)?.abi,
      safeAbi: safeArtifact("SafeL2").abi as InterfaceAbi,
    });
    return served ? { ...report, forkRequests: served.requests(), forkRequestsReceived: served.received() } : report;
  } finally {
    await served?.close();
  }
}

/**
 * Hardhat 3 build names (`project/contracts/X.sol`, `npm/@scope/pkg@1.2.3/path.sol`) as artifacts name
 * their sources (`contracts/X.sol`, `@scope/pkg/path.sol`).
 */
export function artifactName(fq: string): string {
  if (fq.startsWith("project/")) return fq.slice("project/".length);
  const m = /^npm\/((?:@[^/]+\/)?[^/@]+)@[^/]+\/(.*)$/.exec(fq);
  return m ? `${m[1]}/${m[2]}` : fq;
}

/**
 * The OZ upgrades plugin's validation cache (cache/validations.json, written on every build): per
 * contract the storage layout with its types and ERC-7201 namespaces, as upgrades-core reads it.
 */
export function loadLayouts(file = path.join(hre.config.paths.cache, "validations.json")): Map<string, StorageLayout> {
  const out = new Map<string, StorageLayout>();
  if (!existsSync(file)) return out;
  const data = JSON.parse(readFileSync(file, "utf8")) as { log?: Record<string, { layout?: StorageLayout }>[] };
  for (const run of data.log ?? []) for (const [fq, v] of Object.entries(run)) if (v.layout) out.set(artifactName(fq), v.layout);
  return out;
}
