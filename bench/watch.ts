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
import { batchingHttpRpc } from "../src/watch/rpc-batch.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { follow, runOnce } from "../src/watch/watcher.ts";
import { startLatencyProxy, type LatencyProxy } from "../test/helpers/latency-rpc.ts";
import type { Table } from "./table.ts";

/**
 * The watcher's benchmarks, on Hardhat's in-process chain with the real governance topology:
 *  1. detection latency in --follow mode: the block holding a CallScheduled is mined → the review page
 *     is written (files sink), for `latencyOps` operations one after another; median and p99;
 *  2. catch-up speed: `blocks` blocks (empty blocks made cheaply with hardhat_mine) holding `operations`
 *     scheduled operations, indexed, decided and posted from scratch by `gatehouse watch --once`, in
 *     blocks/s with peak memory; beside the indexing alone, and a naive scan that sends one eth_getLogs
 *     request per block (the baseline).
 * Each runs on the in-process chain directly (a request costs microseconds) and again through a
 * loopback proxy that adds a fixed latency to every HTTP request (25 ms, 100 ms), as a hosted RPC does:
 * that is where the number of round trips, not the CPU, decides the speed. At those latencies the naive
 * scan is timed over a sample of the blocks (its speed is one round trip per block, whatever the block).
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
  /** Added RPC latencies (ms) to measure besides the in-process chain; default [25, 100] for latency, [25] for catch-up. */
  latencies?: number[];
  catchUpLatencies?: number[];
  /** Blocks the naive scan reads per added-latency run (its blocks/s is measured on this sample). */
  naiveSample?: number;
  log?: (line: string) => void;
}

export interface LatencyResult {
  /** Added latency of every RPC request (0: in-process). */
  latencyMs: number;
  operations: number;
  pollMs: number;
  samplesMs: number[];
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

export interface ScanResult {
  name: string;
  latencyMs: number;
  /** Blocks actually read (the naive scan reads a sample at an added latency). */
  sampledBlocks: number;
  blocks: number;
  operations: number;
  events: number;
  posts: number;
  seconds: number;
  blocksPerSecond: number;
  rpcCalls: number;
  /** HTTP requests (round trips) through the latency proxy; undefined in-process. */
  roundTrips?: number;
  peakRssMb: number;
  peakHeapMb: number;
  /** RSS and heap just before the scan started (the chain and Hardhat are in the same process). */
  baseRssMb: number;
  baseHeapMb: number;
}

export interface WatchBenchResult {
  latency: LatencyResult[];
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

/** The watcher's RPC: the in-process provider, or through a proxy that adds `latencyMs` per request. */
async function rpcAt(d: Deployed, latencyMs: number): Promise<{ rpc: Rpc; proxy?: LatencyProxy }> {
  const provider = d.ctx.connection.provider as never;
  if (latencyMs === 0) return { rpc: eip1193Rpc(provider) };
  const proxy = await startLatencyProxy(provider, latencyMs);
  return { rpc: batchingHttpRpc(proxy.url, { timeoutMs: 60_000 }), proxy };
}

export async function measureLatency(opts: { operations: number; pollMs: number; latencyMs: number; log: (l: string) => void }): Promise<LatencyResult> {
  const d = await deployed();
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-latency-"));
  const { rpc, proxy } = await rpcAt(d, opts.latencyMs);
  try {
    const proposer = await benchProposer(d);
    const controller = new AbortController();
    const posted = new Map<string, number>();
    let steps = 0;
    const base = await watcherOptions(d.setup, { rpc });
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
    opts.log(`  latency (+${opts.latencyMs} ms RPC): ${samples.length} operations, median ${percentile(sorted, 50).toFixed(1)} ms`);
    return { latencyMs: opts.latencyMs, operations: samples.length, pollMs: opts.pollMs, samplesMs: samples, medianMs: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1)! };
  } finally {
    await proxy?.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCatchUp(opts: { operations: number; blocks: number; maxRange: number; latencies: number[]; naiveSample: number; log: (l: string) => void }): Promise<ScanResult[]> {
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
    const results: ScanResult[] = [];
    const row = (name: string, latencyMs: number, sampledBlocks: number, r: { value: { events: number; posts: number }; peakRssMb: number; peakHeapMb: number; baseRssMb: number; baseHeapMb: number }, seconds: number, calls: number, roundTrips?: number): ScanResult => ({
      name,
      latencyMs,
      sampledBlocks,
      blocks,
      operations: opts.operations,
      events: r.value.events,
      posts: r.value.posts,
      seconds,
      blocksPerSecond: sampledBlocks / seconds,
      rpcCalls: calls,
      ...(roundTrips !== undefined ? { roundTrips } : {}),
      peakRssMb: r.peakRssMb,
      peakHeapMb: r.peakHeapMb,
      baseRssMb: r.baseRssMb,
      baseHeapMb: r.baseHeapMb,
    });

    for (const latencyMs of [0, ...opts.latencies]) {
      const at = latencyMs === 0 ? "in-process" : `+${latencyMs} ms`;
      const { rpc: raw, proxy } = await rpcAt(d, latencyMs);
      try {
        {
          const rpc = counting(raw);
          const trips0 = proxy?.stats.requests ?? 0;
          const began = performance.now();
          const r = await withPeakMemory(async () => {
            const result = await runOnce({ ...(await watcherOptions(d.setup, { rpc })), sinks: [filesSink(path.join(dir, `posts-${latencyMs}`))], ledger: path.join(dir, `full-${latencyMs}.sqlite`), startBlock: start, maxRange: opts.maxRange });
            return { events: result.events, posts: result.posts.filter((p) => p.action === "created").length };
          });
          results.push(row(`gatehouse watch --once (index, decide, post), ranges of ${opts.maxRange}`, latencyMs, blocks, r, (performance.now() - began) / 1000, rpc.calls, proxy ? proxy.stats.requests - trips0 : undefined));
          opts.log(`  catch-up ${at} (full): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
        }
        if (latencyMs === 0) {
          const rpc = counting(raw);
          const ledger = new Ledger(path.join(dir, "index.sqlite"));
          const began = performance.now();
          const r = await withPeakMemory(async () => {
            const s = await syncToHead({ rpc, ledger, addresses: watchedAddresses(topology), topics: WATCH_TOPICS, timelock: topology.timelock, confirmations: 1, range: rangeState(opts.maxRange), startBlock: start });
            return { events: s.events, posts: 0 };
          });
          ledger.close();
          results.push(row(`indexer alone (bounded ranges + reorg checks), ranges of ${opts.maxRange}`, latencyMs, blocks, r, (performance.now() - began) / 1000, rpc.calls));
          opts.log(`  catch-up ${at} (index only): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
        }
        {
          const rpc = counting(raw);
          const last = latencyMs === 0 ? head : Math.min(head, start + opts.naiveSample - 1);
          const trips0 = proxy?.stats.requests ?? 0;
          const began = performance.now();
          const r = await withPeakMemory(async () => {
            let events = 0;
            for (let b = start; b <= last; b++) {
              for (const log of await getLogs(rpc, { addresses: watchedAddresses(topology), topics: WATCH_TOPICS }, b, b)) if (decodeLog(log)) events++;
            }
            return { events, posts: 0 };
          });
          const sampled = last - start + 1;
          results.push(row(`naive baseline: one eth_getLogs per block (index only)${sampled < blocks ? `, timed on the first ${n(sampled)} blocks` : ""}`, latencyMs, sampled, r, (performance.now() - began) / 1000, rpc.calls, proxy ? proxy.stats.requests - trips0 : undefined));
          opts.log(`  catch-up ${at} (naive): ${results.at(-1)!.blocksPerSecond.toFixed(0)} blocks/s`);
        }
      } finally {
        await proxy?.close();
      }
    }
    return results;
  } finally {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureWatch(opts: WatchBenchOptions = {}): Promise<WatchBenchResult> {
  const log = opts.log ?? (() => {});
  const pollMs = opts.pollMs ?? 50;
  const operations = opts.latencyOps ?? 50;
  const latency: LatencyResult[] = [];
  for (const latencyMs of [0, ...(opts.latencies ?? [25, 100])]) {
    log(`watch: detection latency over ${operations} operations (--follow, poll ${pollMs} ms, RPC +${latencyMs} ms)`);
    latency.push(await measureLatency({ operations, pollMs, latencyMs, log }));
  }
  log(`watch: catch-up over ${opts.blocks ?? 100_000} blocks holding ${opts.operations ?? 1000} operations`);
  const catchUp = await measureCatchUp({ operations: opts.operations ?? 1000, blocks: opts.blocks ?? 100_000, maxRange: opts.maxRange ?? 2000, latencies: opts.catchUpLatencies ?? [25], naiveSample: opts.naiveSample ?? 1000, log });
  return { latency, catchUp };
}

const n = (x: number, digits = 0) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

const rpcLabel = (ms: number) => (ms === 0 ? "in-process" : `+${ms} ms per request`);

export function watchTables(r: WatchBenchResult): Table[] {
  return [
    {
      title: `Watcher detection latency (--follow): block with CallScheduled mined → review written (files sink), ${r.latency[0]?.operations ?? 0} operations`,
      columns: [{ header: "RPC" }, { header: "poll interval" }, { header: "median", align: "right" }, { header: "p99", align: "right" }, { header: "max", align: "right" }],
      rows: r.latency.map((l) => [rpcLabel(l.latencyMs), `${l.pollMs} ms`, `${n(l.medianMs, 1)} ms`, `${n(l.p99Ms, 1)} ms`, `${n(l.maxMs, 1)} ms`]),
      notes: [
        "Latency includes polling, reorg checks, decoding, chain facts (tx, receipt, code, storage), rendering and the atomic file writes.",
        "Goal: p99 under 1 s after the confirming block at +25 ms and +100 ms per request (a loopback proxy stands in for a hosted RPC).",
      ],
    },
    {
      title: `Watcher catch-up: ${n(r.catchUp[0]?.blocks ?? 0)} blocks holding ${n(r.catchUp[0]?.operations ?? 0)} operations`,
      columns: [
        { header: "RPC" },
        { header: "scan" },
        { header: "blocks/s", align: "right" },
        { header: "time", align: "right" },
        { header: "RPC calls", align: "right" },
        { header: "round trips", align: "right" },
        { header: "events", align: "right" },
        { header: "posts", align: "right" },
        { header: "peak RSS (+ over start)", align: "right" },
        { header: "peak heap (+ over start)", align: "right" },
        { header: "vs naive", align: "right" },
      ],
      rows: r.catchUp.map((x) => {
        const naive = r.catchUp.find((y) => y.latencyMs === x.latencyMs && y.name.startsWith("naive"));
        return [
          rpcLabel(x.latencyMs),
          x.name,
          n(x.blocksPerSecond),
          `${n(x.seconds, 2)} s`,
          n(x.rpcCalls),
          x.roundTrips !== undefined ? n(x.roundTrips) : "",
          n(x.events),
          n(x.posts),
          `${n(x.peakRssMb)} MB (+${n(x.peakRssMb - x.baseRssMb)})`,
          `${n(x.peakHeapMb)} MB (+${n(x.peakHeapMb - x.baseHeapMb)})`,
          naive ? `${n(x.blocksPerSecond / naive.blocksPerSecond, 1)}x` : "",
        ];
      }),
      notes: [
        "Peak RSS is the whole process, including the in-process chain and Hardhat; peak heap is the JS heap; (+N) is the growth during the scan, sampled every 10 ms.",
        "The naive baseline only indexes (no decisions, no posts); the watcher's own catch-up also decides and writes 1 review per operation (files sink) and keeps its SQLite ledger (synchronous=FULL).",
        "At an added latency the naive scan is timed on a sample: it costs one round trip per block whatever the block holds, so its blocks/s does not depend on the sample. Goal: the watcher ≥ 100x the naive scan at +25 ms.",
      ],
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
  const { values } = parseArgs({ options: { "latency-ops": { type: "string" }, operations: { type: "string" }, blocks: { type: "string" }, "poll-ms": { type: "string" }, "max-range": { type: "string" }, latencies: { type: "string" }, "catch-up-latencies": { type: "string" }, "naive-sample": { type: "string" } } });
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(",").filter(Boolean).map(Number));
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const tables = await watchBenchmark((l) => console.error(l), {
    latencyOps: num(values["latency-ops"]),
    operations: num(values.operations),
    blocks: num(values.blocks),
    pollMs: num(values["poll-ms"]),
    maxRange: num(values["max-range"]),
    latencies: list(values.latencies),
    catchUpLatencies: list(values["catch-up-latencies"]),
    naiveSample: num(values["naive-sample"]),
  });
  for (const t of tables) console.log(`\n${renderTable(t)}`);
}
