import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Contract, ZeroHash, id, parseEther } from "ethers";
import { deployed, type Deployed } from "../test/helpers/fixture.ts";
import { ROLES, TIMELOCK_ABI, upgradeInterface } from "../src/timelock/calls.ts";
import { topologyOf, watchedAddresses } from "../src/watch/decide.ts";
import { WATCH_TOPICS, decodeLog } from "../src/watch/events.ts";
import { Ledger } from "../src/watch/ledger.ts";
import { getLogs, rangeState, syncToHead } from "../src/watch/indexer.ts";
import { eip1193Rpc, type Rpc } from "../src/watch/rpc.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { follow, runOnce } from "../src/watch/watcher.ts";
import type { Table } from "./table.ts";

/**
 * The watcher's benchmarks, on Hardhat's in-process chain with the real governance topology:
 *  1. detection latency in --follow mode: the block holding a CallScheduled is mined → the review page
 *     is written (files sink), for `latencyOps` operations one after another; median and p99;
 *  2. catch-up speed: `blocks` blocks (empty blocks made cheaply with hardhat_mine) holding `operations`
 *     scheduled operations, indexed, decided and posted from scratch by `gatehouse watch --once`, in
 *     blocks/s with peak memory; beside the indexing alone, and a naive scan that sends one eth_getLogs
 *     request per block (the baseline).
 * The benchmark schedules from an account granted PROPOSER_ROLE by impersonating the timelock: it
 * measures indexing and posting, not governance. Each scenario runs on its own fresh chain.
 */
export interface WatchBenchOptions {
  latencyOps?: number;
  operations?: number;
  blocks?: number;
  /** --follow poll interval (ms). */
  pollMs?: number;
  /** eth_getLogs range of the watcher (blocks). */
  maxRange?: number;
  log?: (line: string) => void;
}

export interface LatencyResult {
  operations: number;
  pollMs: number;
  samplesMs: number[];
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

export interface ScanResult {
  name: string;
  blocks: number;
  operations: number;
  events: number;
  posts: number;
  seconds: number;
  blocksPerSecond: number;
  rpcCalls: number;
  peakRssMb: number;
  peakHeapMb: number;
  /** RSS and heap just before the scan started (the chain and Hardhat are in the same process). */
  baseRssMb: number;
  baseHeapMb: number;
}

export interface WatchBenchResult {
  latency: LatencyResult;
  catchUp: ScanResult[];
}

function counting(rpc: Rpc): Rpc & { calls: number } {
  const c = {
    calls: 0,
    request<T>(method: string, params?: unknown[]): Promise<T> {
      c.calls++;
      return rpc.request<T>(method, params);
    },
  };
  return c;
}

/** Peak RSS and JS heap while `fn` runs, sampled every 10 ms. */
async function withPeakMemory<T>(fn: () => Promise<T>): Promise<{ value: T; peakRssMb: number; peakHeapMb: number; baseRssMb: number; baseHeapMb: number }> {
  globalThis.gc?.();
  const base = process.memoryUsage();
  let rss = base.rss;
  let heap = base.heapUsed;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }, 10);
  try {
    const value = await fn();
    const m = process.memoryUsage();
    return { value, peakRssMb: Math.max(rss, m.rss) / 2 ** 20, peakHeapMb: Math.max(heap, m.heapUsed) / 2 ** 20, baseRssMb: base.rss / 2 ** 20, baseHeapMb: base.heapUsed / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

/** A proposer account and a VaultV2 implementation to schedule upgrades to (no record: each is an alert post). */
async function benchProposer(d: Deployed): Promise<{ schedule: (salt: string) => Promise<void> }> {
  const provider = d.ctx.connection.provider;
  const timelockAddress = d.setup.deployment.timelock.address;
  await provider.request({ method: "hardhat_impersonateAccount", params: [timelockAddress] });
  await provider.request({ method: "hardhat_setBalance", params: [timelockAddress, "0x" + parseEther("10").toString(16)] });
  const asTimelock = new Contract(timelockAddress, TIMELOCK_ABI, await d.ctx.ethers.getSigner(timelockAddress));
  await (await asTimelock.grantRole(ROLES.PROPOSER_ROLE, d.actors.outsider.address)).wait();
  await provider.request({ method: "hardhat_stopImpersonatingAccount", params: [timelockAddress] });
  const impl = await d.ctx.ethers.deployContract("VaultV2", [], d.actors.outsider.signer);
  await impl.waitForDeployment();
  const data = upgradeInterface.encodeFunctionData("upgradeToAndCall", [await impl.getAddress(), "0x"]);
  const timelock = new Contract(timelockAddress, TIMELOCK_ABI, d.actors.outsider.signer);
  const vault = d.setup.deployment.proxies.vault!.address;
  return {
    schedule: async (salt) => {
      await timelock.schedule(vault, 0n, data, ZeroHash, salt, 3600n);
    },
  };
}

export async function measureLatency(opts: { operations: number; pollMs: number; log: (l: string) => void }): Promise<LatencyResult> {
  const d = await deployed();
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-latency-"));
  try {
    const proposer = await benchProposer(d);
    const controller = new AbortController();
    const posted = new Map<string, number>();
    let steps = 0;
    const base = await watcherOptions(d.setup);
    const running = follow({
      ...base,
      sinks: [filesSink(path.join(dir, "posts"))],
      ledger: path.join(dir, "watch.sqlite"),
      intervalMs: opts.pollMs,
      signal: controller.signal,
      onStep: () => void steps++,
      onPost: (p) => {
        if (p.key.startsWith("op:")) posted.set(p.key.split(":")[1]!, p.at);
      },
    });
    while (steps === 0) await new Promise((r) => setTimeout(r, 5));
    const samples: number[] = [];
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < opts.operations; i++) {
      const salt = id(`latency ${i}`);
      const before = posted.size;
      // Operations arrive at a random moment of the poll cycle, as they do on a real chain.
      await new Promise((r) => setTimeout(r, Math.floor(random() * opts.pollMs)));
      // In-process automining: the block with the CallScheduled event exists when the send returns.
      await proposer.schedule(salt);
      const mined = performance.now();
      while (posted.size === before) await new Promise((r) => setImmediate(r));
      const at = [...posted.values()].at(-1)!;
      samples.push(at - mined);
    }
    controller.abort();
    await running;
    const sorted = [...samples].sort((a, b) => a - b);
    opts.log(`  latency: ${samples.length} operations, median ${percentile(sorted, 50).toFixed(1)} ms`);
    return { operations: samples.length, pollMs: opts.pollMs, samplesMs: samples, medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1)! };
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCatchUp(opts: { operations: number; blocks: number; maxRange: number; log: (l: string) => void }): Promise<ScanResult[]> {
  const d = await deployed();
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-catchup-"));
  try {
    const provider = d.ctx.connection.provider;
    const start = (await d.ctx.ethers.provider.getBlockNumber()) + 1;
    const proposer = await benchProposer(d);
    const gap = Math.max(0, Math.floor(opts.blocks / opts.operations) - 1);
    const t0 = performance.now();
    for (let i = 0; i < opts.operations; i++) {
      await proposer.schedule(id(`catch-up ${i}`));
      if (gap > 0) await provider.request({ method: "hardhat_mine", params: ["0x" + gap.toString(16)] });
      if ((i + 1) % 250 === 0) opts.log(`  built ${i + 1}/${opts.operations} operations (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
    const head = await d.ctx.ethers.provider.getBlockNumber();
    const blocks = head - start + 1;
    const topology = topologyOf(d.setup.deployment, d.ctx.network);
    const raw = eip1193Rpc(provider as never);
    const results: ScanResult[] = [];
    const row = (name: string, r: { value: { events: number; posts: number }; peakRssMb: number; peakHeapMb: number; baseRssMb: number; baseHeapMb: number }, seconds: number, calls: number): ScanResult => ({
      name,
      blocks,
      operations: opts.operations,
      events: r.value.events,
      posts: r.value.posts,
      seconds,
      blocksPerSecond: blocks / seconds,
      rpcCalls: calls,
      peakRssMb: r.peakRssMb,
      peakHeapMb: r.peakHeapMb,
      baseRssMb: r.baseRssMb,
      baseHeapMb: r.baseHeapMb,
    });

    {
      const rpc = counting(raw);
      const began = performance.now();
      const r = await withPeakMemory(async () => {
        const result = await runOnce({ ...(await watcherOptions(d.setup, { rpc })), sinks: [filesSink(path.join(dir, "posts"))], ledger: path.join(dir, "full.sqlite"), startBlock: start, maxRange: opts.maxRange });
        return { events: result.events, posts: result.posts.filter((p) => p.action === "created").length };
      });
      results.push(row(`gatehouse watch --once (index, decide, post), ranges of ${opts.maxRange}`, r, (performance.now() - began) / 1000, rpc.calls));
      opts.log(`  catch-up (full): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
    }
    {
      const rpc = counting(raw);
      const ledger = new Ledger(path.join(dir, "index.sqlite"));
      const began = performance.now();
      const r = await withPeakMemory(async () => {
        const s = await syncToHead({ rpc, ledger, addresses: watchedAddresses(topology), topics: WATCH_TOPICS, timelock: topology.timelock, confirmations: 1, range: rangeState(opts.maxRange), startBlock: start });
        return { events: s.events, posts: 0 };
      });
      ledger.close();
      results.push(row(`indexer alone (bounded ranges + reorg checks), ranges of ${opts.maxRange}`, r, (performance.now() - began) / 1000, rpc.calls));
      opts.log(`  catch-up (index only): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
    }
    {
      const rpc = counting(raw);
      const began = performance.now();
      const r = await withPeakMemory(async () => {
        let events = 0;
        for (let b = start; b <= head; b++) {
          for (const log of await getLogs(rpc, { addresses: watchedAddresses(topology), topics: WATCH_TOPICS }, b, b)) if (decodeLog(log)) events++;
        }
        return { events, posts: 0 };
      });
      results.push(row("naive baseline: one eth_getLogs per block (index only)", r, (performance.now() - began) / 1000, rpc.calls));
      opts.log(`  catch-up (naive): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
    }
    return results;
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureWatch(opts: WatchBenchOptions = {}): Promise<WatchBenchResult> {
  const log = opts.log ?? (() => {});
  log(`watch: detection latency over ${opts.latencyOps ?? 50} operations (--follow, poll ${opts.pollMs ?? 50} ms)`);
  const latency = await measureLatency({ operations: opts.latencyOps ?? 50, pollMs: opts.pollMs ?? 50, log });
  log(`watch: catch-up over ${opts.blocks ?? 100_000} blocks holding ${opts.operations ?? 1000} operations`);
  const catchUp = await measureCatchUp({ operations: opts.operations ?? 1000, blocks: opts.blocks ?? 100_000, maxRange: opts.maxRange ?? 2000, log });
  return { latency, catchUp };
}

const n = (x: number, digits = 0) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function watchTables(r: WatchBenchResult): Table[] {
  const naive = r.catchUp.find((x) => x.name.startsWith("naive"));
  return [
    {
      title: `Watcher detection latency (--follow): block with CallScheduled mined → review written (files sink), ${r.latency.operations} operations`,
      columns: [{ header: "poll interval" }, { header: "median", align: "right" }, { header: "p99", align: "right" }, { header: "max", align: "right" }],
      rows: [[`${r.latency.pollMs} ms`, `${n(r.latency.medianMs, 1)} ms`, `${n(r.latency.p99Ms, 1)} ms`, `${n(r.latency.maxMs, 1)} ms`]],
      notes: ["In-process Hardhat chain; latency includes polling, reorg checks, decoding, chain facts (tx, receipt, code, storage), rendering and the atomic file writes."],
    },
    {
      title: `Watcher catch-up: ${n(r.catchUp[0]?.blocks ?? 0)} blocks holding ${n(r.catchUp[0]?.operations ?? 0)} operations`,
      columns: [
        { header: "scan" },
        { header: "blocks/s", align: "right" },
        { header: "time", align: "right" },
        { header: "RPC calls", align: "right" },
        { header: "events", align: "right" },
        { header: "posts", align: "right" },
        { header: "peak RSS (+ over start)", align: "right" },
        { header: "peak heap (+ over start)", align: "right" },
        { header: "vs naive", align: "right" },
      ],
      rows: r.catchUp.map((x) => [
        x.name,
        n(x.blocksPerSecond),
        `${n(x.seconds, 2)} s`,
        n(x.rpcCalls),
        n(x.events),
        n(x.posts),
        `${n(x.peakRssMb)} MB (+${n(x.peakRssMb - x.baseRssMb)})`,
        `${n(x.peakHeapMb)} MB (+${n(x.peakHeapMb - x.baseHeapMb)})`,
        naive ? `${n(x.blocksPerSecond / naive.blocksPerSecond, 1)}x` : "",
      ]),
      notes: ["Peak RSS is the whole process, including the in-process chain and Hardhat; peak heap is the JS heap; (+N) is the growth during the scan, sampled every 10 ms.",
        "The naive baseline only indexes (no decisions, no posts); the watcher's own catch-up also decides and writes 1 review per operation (files sink) and keeps its SQLite ledger (synchronous=FULL)."],
    },
  ];
}

/** For bench/run.ts: `{ name, run: (log) => watchBenchmark(log) }`. */
export async function watchBenchmark(log: (line: string) => void, opts: Omit<WatchBenchOptions, "log"> = {}): Promise<Table[]> {
  return watchTables(await measureWatch({ ...opts, log }));
}

// `node bench/watch.ts [--latency-ops N] [--operations N] [--blocks N] [--poll-ms N]`: this benchmark alone.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const { parseArgs } = await import("node:util");
  const { renderTable } = await import("./table.ts");
  const { values } = parseArgs({ options: { "latency-ops": { type: "string" }, operations: { type: "string" }, blocks: { type: "string" }, "poll-ms": { type: "string" }, "max-range": { type: "string" } } });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const tables = await watchBenchmark((l) => console.error(l), {
    latencyOps: num(values["latency-ops"]),
    operations: num(values.operations),
    blocks: num(values.blocks),
    pollMs: num(values["poll-ms"]),
    maxRange: num(values["max-range"]),
  });
  for (const t of tables) console.log(`\n${renderTable(t)}`);
}
