import { rmSync } from "node:fs";
import hre from "hardhat";
import { AbiCoder, Interface, ZeroAddress, getAddress, keccak256, toBeHex } from "ethers";
import { planUpgrade } from "../src/plan/plan.ts";
import { executeBatchArgs } from "../src/proposal/derive.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";
import { simulateProposal, type SimulationRun } from "../src/simulate/run.ts";
import { forkCache, serveRpc, type Eip1193 } from "../src/simulate/serve.ts";
import { TIMELOCK_ABI } from "../src/timelock/calls.ts";
import { deployed, type Deployed } from "../test/helpers/fixture.ts";
import { deployVaults, devManifestFile } from "./gas-schedule.ts";
import type { Table } from "./table.ts";

/**
 * `simulate` of N proxy upgrades (the full path: the owners' approveHash, the Safe's execTransaction that
 * schedules, time past the delay, executeBatch; then the state diff, permissions and probes) on an EDR
 * fork of an in-process chain served over loopback JSON-RPC, beside a bare `eth_call` of the same
 * executeBatch on a fork of the same block (the operation made Ready by a state override of its timelock timestamp). Requests
 * are counted where they reach the fork source: without the per-block cache, with a cold cache (the
 * first simulation at a block) and with a warm one (another simulation at the same block: the watcher's
 * pending operations at one head, verify then sign).
 */

export interface SimulateBenchRow {
  upgrades: number;
  bare: { ms: number; requests: number };
  noCache: { ms: number; requests: number };
  cold: { ms: number; requests: number; received: number };
  warm: { ms: number; requests: number; received: number };
}

class MeasurementFailed extends Error {
  override name = "MeasurementFailed";
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new MeasurementFailed(what);
}

/** The N-vault proposal as a record, with the vaults added to the in-memory policy so simulate probes them. */
async function proposal(d: Deployed, n: number): Promise<ProposalRecord> {
  const { setup, ctx } = d;
  const changes = await deployVaults(d, n);
  const vault = setup.policy.contracts.find((c) => c.name === "vault")!;
  for (const c of changes) setup.policy.contracts.push({ ...vault, name: c.name, proxy: c.proxy });
  const delay = (await setup.timelock.getMinDelay()) as bigint;
  const plan = planUpgrade({ chainId: ctx.chainId, timelock: setup.deployment.timelock.address, changes, delay });
  return {
    version: 2,
    id: `bench-${n}`,
    network: ctx.network,
    chainId: Number(ctx.chainId),
    createdAt: new Date().toISOString(),
    commit: null,
    timelock: setup.deployment.timelock.address,
    safe: setup.deployment.safe.address,
    operations: plan.operations.map((o) => ({ proxy: o.name, proxyAddress: o.proxy, kind: o.kind, contract: o.contract, oldContract: o.oldContract, oldImplementation: o.oldImplementation, newImplementation: o.newImplementation, initializer: o.initializer, call: { target: o.call.target, value: o.call.value.toString(), data: o.call.data } })),
    predecessor: plan.batch.predecessor,
    salt: plan.batch.salt,
    round: 0,
    delay: delay.toString(),
    operationId: plan.operationId,
    artifacts: {},
    storageLayoutDiff: {},
    rollback: { operations: [], salt: plan.batch.salt, predecessor: plan.batch.predecessor, operationId: plan.rollback.operationId },
    safeTransactions: [],
    state: "staged",
    history: [],
  } as unknown as ProposalRecord;
}

/** eth_call of executeBatch on a fresh fork of `block`, the operation's timestamp set to 2 (Ready; 1 means Done) by a state override. */
async function bareCall(d: Deployed, record: ProposalRecord, block: number): Promise<{ ms: number; requests: number }> {
  const served = await serveRpc(d.ctx.connection.provider as unknown as Eip1193);
  const started = performance.now();
  const fork = await hre.network.create<"generic">({ network: "default", override: { chainId: Number(d.ctx.chainId), forking: { url: served.url, blockNumber: block }, loggingEnabled: false } });
  try {
    const rpc = fork.provider as unknown as Eip1193;
    await rpc.request({ method: "evm_mine", params: [] });
    const b = executeBatchArgs(record);
    const data = new Interface([...TIMELOCK_ABI]).encodeFunctionData("executeBatch", [b.targets, b.values, b.payloads, b.predecessor, b.salt]);
    // OZ 5 TimelockController: AccessControl's _roles at slot 0, _timestamps at slot 1.
    const slot = keccak256(AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256"], [record.operationId, 1n]));
    const timelock = getAddress(record.timelock);
    const out = (await rpc.request({ method: "eth_call", params: [{ from: ZeroAddress, to: timelock, data, gas: "0xe4e1c0" }, "latest", { [timelock]: { stateDiff: { [slot]: toBeHex(2n, 32) } } }] })) as string;
    check(out === "0x", `the bare executeBatch eth_call returned ${out}`);
    return { ms: performance.now() - started, requests: served.requests() };
  } finally {
    await fork.close();
    await served.close();
  }
}

async function timed(run: () => Promise<SimulationRun>): Promise<{ ms: number; report: SimulationRun }> {
  const started = performance.now();
  const report = await run();
  check(report.findings.length === 0, `the simulation has findings: ${report.findings.map((f) => f.message).join("; ")}`);
  check(report.steps.every((s) => s.ok), "a step of the simulation reverted");
  return { ms: performance.now() - started, report };
}

export async function measureSimulation(n: number, opts: { warmup?: boolean } = {}): Promise<SimulateBenchRow> {
  const d = await deployed();
  try {
    const record = await proposal(d, n);
    const block = await d.ctx.ethers.provider.getBlockNumber();
    // The process's first fork and simulation pay one-off costs (EDR start-up, JIT): not measured.
    if (opts.warmup) await simulateProposal(d.setup, record, { blockNumber: block });
    const bare = await bareCall(d, record, block);
    const noCache = await timed(() => simulateProposal(d.setup, record, { blockNumber: block }));
    check(noCache.report.stateDiff.filter((c) => c.name?.variable === "erc1967.implementation").length === n, `the simulation does not upgrade ${n} proxies`);
    const cache = forkCache();
    const cold = await timed(() => simulateProposal(d.setup, record, { blockNumber: block, cache }));
    const warm = await timed(() => simulateProposal(d.setup, record, { blockNumber: block, cache }));
    return {
      upgrades: n,
      bare,
      noCache: { ms: noCache.ms, requests: noCache.report.forkRequests ?? 0 },
      cold: { ms: cold.ms, requests: cold.report.forkRequests ?? 0, received: cold.report.forkRequestsReceived ?? 0 },
      warm: { ms: warm.ms, requests: warm.report.forkRequests ?? 0, received: warm.report.forkRequestsReceived ?? 0 },
    };
  } finally {
    const manifest = await devManifestFile(d).catch(() => undefined);
    await d.close();
    rmSync(d.root, { recursive: true, force: true });
    if (manifest) rmSync(manifest, { force: true });
  }
}

export async function simulateBenchmark(sizes: number[], log: (line: string) => void): Promise<Table[]> {
  const rows: SimulateBenchRow[] = [];
  for (const [i, n] of sizes.entries()) {
    const started = performance.now();
    rows.push(await measureSimulation(n, { warmup: i === 0 }));
    log(`  simulate ${n} upgrade(s): ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const r = { align: "right" as const };
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  return [
    {
      title: "simulate: N upgrades on an EDR fork (full path, diff, probes) beside a bare eth_call of executeBatch; time and JSON-RPC requests to the fork source",
      columns: [
        { header: "upgrades", ...r },
        { header: "bare eth_call (time / requests)", ...r },
        { header: "simulate, no cache", ...r },
        { header: "simulate, cache cold", ...r },
        { header: "simulate, cache warm", ...r },
        { header: "requests the fork made (cold)", ...r },
      ],
      rows: rows.map((x) => [
        String(x.upgrades),
        `${s(x.bare.ms)} / ${x.bare.requests}`,
        `${s(x.noCache.ms)} / ${x.noCache.requests}`,
        `${s(x.cold.ms)} / ${x.cold.requests}`,
        `${s(x.warm.ms)} / ${x.warm.requests}`,
        String(x.cold.received),
      ]),
      notes: [
        "Fork source: the in-process Hardhat chain served over loopback HTTP JSON-RPC (src/simulate/serve.ts); a request counts when it reaches the source, so cache hits do not.",
        "The per-block cache keeps the chain id and state reads pinned to the fork block by number (keyed by the block's number and hash); a warm cache is a second simulation at the same block.",
        "Bare eth_call: a fresh fork of the same block, executeBatch with the operation made Ready by a state override; no trace, no diff, no probes.",
        "Every simulation completed with no finding and upgraded exactly N proxies. One run each on a shared machine: compare columns within a row; the request counts are exact.",
      ],
    },
  ];
}
