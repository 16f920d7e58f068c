import { mkdtempSync, rmSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { tmpdir } from "node:os";
import path from "node:path";
import { AbiCoder, getAddress } from "ethers";
import { safeCall, safeTxHashes, SAFE_TX_TYPES, type SafeTxData } from "../src/safe/hash.ts";
import { readSafe } from "../src/safe/kit.ts";
import { MAX_BODY_BYTES, PENALTY, startTxService, type TxService } from "../src/service/server.ts";
import { deployed } from "../test/helpers/fixture.ts";
import type { Table } from "./table.ts";

/**
 * Throughput and latency of `gatehouse tx-service` on a fresh in-process Hardhat chain with the Safe 1.5.0
 * 2-of-3 deployed: proposals (POST /api/v2/safes/{safe}/multisig-transactions/) and confirmations
 * (POST /api/v1/multisig-transactions/{hash}/confirmations/) with 1 and 16 concurrent clients.
 *
 * Every payload is signed before the clock starts (signing is the client's cost, not the service's), so
 * a timed request is: HTTP on loopback + JSON parsing + field validation + one eth_blockNumber + the
 * Safe's owners/threshold/nonce/VERSION (eth_calls cached per block) + the safeTxHash recomputed +
 * ECDSA recovery + one SQLite transaction (WAL). Clients use Node's fetch (keep-alive); each sends its
 * next request as soon as the previous answer arrives. The per-request log line is switched off.
 *
 * Baseline, measured in the same run at the same concurrency: `GET /api/v1/about`, the service's cheapest
 * route (HTTP, routing, JSON out; no body, no chain, no SQLite). The gap between a row and its baseline is
 * what verification and storage cost; the baseline itself is the HTTP floor of this machine.
 */

export interface ServiceBenchRow {
  operation: "propose" | "confirm";
  clients: number;
  requests: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** GET /api/v1/about with the same number of clients and requests, in the same run. */
  baselinePerSecond: number;
  baselineP50Ms: number;
  baselineP99Ms: number;
}

/** GET /api/v1/about latency from one client while `attackers` other clients send one kind of oversized proposal. */
export interface AttackBenchRow {
  attack: string;
  attackers: number;
  /** Oversized proposals the attackers got answered while the latency was measured, and their status. */
  attackRequests: number;
  attackStatus: string;
  requests: number;
  /** Rounds measured (idle and attacks interleaved); p50Ms and p99Ms are medians over them. */
  rounds: number;
  p50Ms: number;
  p99Ms: number;
  p99Rounds: number[];
}

export interface ServiceBenchResult {
  rows: ServiceBenchRow[];
  attack: AttackBenchRow[];
}

export interface ServiceBenchOptions {
  /** Requests per measurement (default 500). */
  requests?: number;
  /** Concurrent clients (default [1, 16]). */
  clients?: number[];
  log?: (line: string) => void;
}

interface Measured {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Payload {
  url: string;
  body?: string;
}

/** Rounds of the attack measurement (idle, then each attack), interleaved. */
const ATTACK_ROUNDS = 3;

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** Send every payload with `clients` concurrent loops; every answer must have status `expect`. */
async function drive(payloads: Payload[], clients: number, expect: number): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  const failures: string[] = [];
  const client = async () => {
    for (let i = next++; i < payloads.length; i = next++) {
      const p = payloads[i]!;
      const t0 = performance.now();
      const res = await fetch(p.url, p.body === undefined ? undefined : { method: "POST", headers: { "content-type": "application/json" }, body: p.body });
      const text = await res.text();
      latencies.push(performance.now() - t0);
      if (res.status !== expect) failures.push(`${res.status} ${text.slice(0, 200)}`);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  if (failures.length > 0) throw new Error(`${failures.length} of ${payloads.length} requests failed, e.g. ${failures[0]}`);
  latencies.sort((a, b) => a - b);
  return { perSecond: payloads.length / seconds, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

/**
 * `clients` loops, in a worker thread (an attacker is another process, not a share of the service's
 * event loop), sending `body` as a proposal to `url`, each on a fresh connection (the service closes the
 * ones it refuses unread), until `stop()`. Counts answers by status ("closed" when the socket closed
 * before an answer came back).
 */
const FLOOD_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
const { url, body, clients, localAddress } = workerData;
const u = new URL(url);
const payload = Buffer.from(body);
const statuses = {};
let running = true;
parentPort.on("message", () => (running = false));
const once = () => new Promise((resolve) => {
  let settled = false;
  const done = (status) => { if (settled) return; settled = true; statuses[status] = (statuses[status] || 0) + 1; resolve(); };
  const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: "POST", agent: false, localAddress,
    headers: { "content-type": "application/json", "content-length": String(payload.length) } }, (res) => {
    res.resume();
    res.on("end", () => done(String(res.statusCode)));
    res.on("error", () => done("closed"));
  });
  req.on("error", () => done("closed"));
  req.end(payload);
});
Promise.all(Array.from({ length: clients }, async () => { while (running) await once(); })).then(() => parentPort.postMessage(statuses));
`;

function flood(url: string, body: string, clients: number, localAddress: string) {
  const worker = new Worker(FLOOD_WORKER, { eval: true, workerData: { url, body, clients, localAddress } });
  const result = new Promise<Map<string, number>>((resolve, reject) => {
    worker.once("message", (statuses: Record<string, number>) => resolve(new Map(Object.entries(statuses))));
    worker.once("error", reject);
  });
  return {
    async stop() {
      worker.postMessage("stop");
      const statuses = await result;
      await worker.terminate();
      return statuses;
    },
  };
}

export async function benchService(options: ServiceBenchOptions = {}): Promise<ServiceBenchResult> {
  const requests = options.requests ?? 500;
  const levels = options.clients ?? [1, 16];
  const log = options.log ?? (() => {});
  const d = await deployed();
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-txs-"));
  let svc: TxService | undefined;
  try {
    const safe = getAddress(d.setup.deployment.safe.address);
    const { nonce } = await readSafe(d.ctx, safe);
    const [proposer, confirmer] = d.actors.owners;
    const domain = { chainId: d.ctx.chainId, verifyingContract: safe };
    const coder = AbiCoder.defaultAbiCoder();
    svc = await startTxService({ ctx: d.ctx, dbFile: path.join(dir, "bench.sqlite"), log: () => {} });
    const api = `${svc.url}/api`;

    /** `count` distinct proposals (same nonce, distinct data) and their confirmations, all signed now. */
    const sign = async (tag: number, count: number) => {
      const proposals: Payload[] = [];
      const confirmations: Payload[] = [];
      for (let i = 0; i < count; i++) {
        const tx: SafeTxData = safeCall(d.actors.user.address, coder.encode(["uint256", "uint256"], [tag, i]), nonce);
        const { safeTxHash } = safeTxHashes(d.ctx.chainId, safe, tx);
        const [s1, s2] = await Promise.all([proposer.signer.signTypedData(domain, SAFE_TX_TYPES, tx), confirmer.signer.signTypedData(domain, SAFE_TX_TYPES, tx)]);
        proposals.push({ url: `${api}/v2/safes/${safe}/multisig-transactions/`, body: JSON.stringify({ ...tx, contractTransactionHash: safeTxHash, sender: proposer.address, signature: s1, origin: "bench" }) });
        confirmations.push({ url: `${api}/v1/multisig-transactions/${safeTxHash}/confirmations/`, body: JSON.stringify({ signature: s2 }) });
      }
      return { proposals, confirmations };
    };
    const about = (count: number): Payload[] => Array.from({ length: count }, () => ({ url: `${api}/v1/about` }));

    // Warm-up (JIT, connection pool, the per-block cache), not measured.
    const warm = await sign(0, 20);
    await drive(about(50), 4, 200);
    await drive(warm.proposals, 4, 201);
    await drive(warm.confirmations, 4, 201);

    const rows: ServiceBenchRow[] = [];
    for (const [k, clients] of levels.entries()) {
      log(`tx-service bench: signing ${requests} proposals and confirmations for ${clients} client(s)...`);
      const signed = await sign(k + 1, requests);
      const baseline = await drive(about(requests), clients, 200);
      const proposed = await drive(signed.proposals, clients, 201);
      const confirmed = await drive(signed.confirmations, clients, 201);
      const base = { clients, requests, baselinePerSecond: baseline.perSecond, baselineP50Ms: baseline.p50Ms, baselineP99Ms: baseline.p99Ms };
      rows.push({ operation: "propose", ...base, ...proposed }, { operation: "confirm", ...base, ...confirmed });
      log(`tx-service bench: ${clients} client(s): propose ${proposed.perSecond.toFixed(0)}/s, confirm ${confirmed.perSecond.toFixed(0)}/s, about ${baseline.perSecond.toFixed(0)}/s`);
    }

    // GET /about from one client, idle and while two clients send oversized proposals (issue 8: a 1 MiB
    // proposal of 8,061 signature parts used to take 10 s of CPU and stall /about for 14 s).
    const attack: AttackBenchRow[] = [];
    const probes = Math.max(requests * 2, 1000);
    const tx: SafeTxData = safeCall(d.actors.user.address, "0x", nonce);
    const { safeTxHash } = safeTxHashes(d.ctx.chainId, safe, tx);
    const oversized = (parts: number) => JSON.stringify({ ...tx, contractTransactionHash: safeTxHash, sender: proposer.address, signature: "0x" + ("11".repeat(64) + "1b").repeat(parts), origin: "bench" });
    // Each attack comes from its own loopback addresses (Linux routes all of 127/8 to lo), as different
    // attackers would: the per-client penalty of one does not carry over into the next measurement, and
    // every round's attackers start with a full budget. The /about client stays on 127.0.0.1. Rounds
    // interleave idle and attacked measurements, so a burst of load from elsewhere on the machine lands
    // in one round's figures, not in one row's; each row shows the median over the rounds.
    const attacks: { attack: string; body?: string }[] = [
      { attack: "none (idle)" },
      { attack: "1 MiB proposal, 8,061 signature parts", body: oversized(8061) },
      { attack: `largest body read (${Math.floor(MAX_BODY_BYTES / 1024)} KiB), ${Math.floor((MAX_BODY_BYTES - 1024) / 130)} signature parts`, body: oversized(Math.floor((MAX_BODY_BYTES - 1024) / 130)) },
    ];
    const results = attacks.map(() => ({ p50: [] as number[], p99: [] as number[], statuses: new Map<string, number>() }));
    for (let round = 0; round < ATTACK_ROUNDS; round++) {
      for (const [k, a] of attacks.entries()) {
        const attackers = a.body === undefined ? undefined : flood(`${api}/v2/safes/${safe}/multisig-transactions/`, a.body, 2, `127.0.${round}.${k + 1}`);
        // Let the attackers get going before measuring.
        if (attackers) await new Promise((r) => setTimeout(r, 200));
        const measured = await drive(about(probes), 1, 200);
        const statuses = (await attackers?.stop()) ?? new Map<string, number>();
        if (a.body !== undefined && statuses.size === 0) throw new Error(`tx-service bench: the ${a.attack} attackers got no answer`);
        if ([...statuses.keys()].some((x) => x.startsWith("2"))) throw new Error(`tx-service bench: an oversized proposal was accepted (${[...statuses].join(", ")})`);
        const r = results[k]!;
        r.p50.push(measured.p50Ms);
        r.p99.push(measured.p99Ms);
        for (const [x, n] of statuses) r.statuses.set(x, (r.statuses.get(x) ?? 0) + n);
        log(`tx-service bench: round ${round + 1}/${ATTACK_ROUNDS}, GET /about with attack '${a.attack}': p99 ${measured.p99Ms.toFixed(2)} ms (${[...statuses].map(([x, n]) => `${x} x${n}`).join(", ") || "-"})`);
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    for (const [k, a] of attacks.entries()) {
      const r = results[k]!;
      const attackRequests = [...r.statuses.values()].reduce((x, y) => x + y, 0);
      const attackStatus = [...r.statuses].map(([x, n]) => `${x} x${n}`).join(", ") || "-";
      attack.push({ attack: a.attack, attackers: a.body === undefined ? 0 : 2, attackRequests, attackStatus, requests: probes, rounds: ATTACK_ROUNDS, p50Ms: median(r.p50), p99Ms: median(r.p99), p99Rounds: r.p99 });
    }

    // The numbers describe working flows only: every proposal stored once, with both confirmations.
    const listed = (await (await fetch(`${api}/v2/safes/${safe}/multisig-transactions/?limit=1&nonce=${nonce}`)).json()) as { count: number; results: { confirmations: unknown[] }[] };
    const expected = 20 + requests * levels.length;
    if (listed.count !== expected || listed.results[0]?.confirmations.length !== 2) {
      throw new Error(`tx-service bench: expected ${expected} proposals with 2 confirmations each, the service lists ${listed.count}`);
    }
    return { rows, attack };
  } finally {
    await svc?.close();
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The rows as one table for bench/run.ts's renderTable. */
export function serviceBenchTables({ rows, attack }: ServiceBenchResult): Table[] {
  const ms = (v: number) => v.toFixed(2);
  const rate = (v: number) => v.toFixed(0);
  const idle = attack.find((r) => r.attackers === 0)?.p99Ms ?? NaN;
  return [
    {
      title: "tx-service: proposals and confirmations per second, latency (in-process chain, loopback HTTP, pre-signed payloads)",
      columns: [
        { header: "operation" },
        { header: "clients", align: "right" },
        { header: "requests", align: "right" },
        { header: "req/s", align: "right" },
        { header: "p50 ms", align: "right" },
        { header: "p99 ms", align: "right" },
        { header: "baseline req/s", align: "right" },
        { header: "baseline p50 ms", align: "right" },
        { header: "baseline p99 ms", align: "right" },
      ],
      rows: rows.map((r) => [r.operation, String(r.clients), String(r.requests), rate(r.perSecond), ms(r.p50Ms), ms(r.p99Ms), rate(r.baselinePerSecond), ms(r.baselineP50Ms), ms(r.baselineP99Ms)]),
      notes: [
        "propose = POST /api/v2/safes/{safe}/multisig-transactions/ (hash recomputed, EIP-712 signature recovered, owner checked on chain, one SQLite transaction)",
        "confirm = POST /api/v1/multisig-transactions/{hash}/confirmations/ (second owner, same checks)",
        "baseline = GET /api/v1/about at the same concurrency in the same run: HTTP + routing only, no chain, no SQLite",
      ],
    },
    {
      title: "tx-service under attack: GET /api/v1/about latency (1 client) while 2 clients send oversized proposals (goal: p99 < 2x idle)",
      columns: [
        { header: "attack" },
        { header: "attackers", align: "right" },
        { header: "attack answers (all rounds)", align: "left" },
        { header: "requests x rounds", align: "right" },
        { header: "p50 ms", align: "right" },
        { header: "p99 ms", align: "right" },
        { header: "p99 per round", align: "right" },
        { header: "p99 vs idle", align: "right" },
      ],
      rows: attack.map((r) => [r.attack, String(r.attackers), r.attackStatus, `${r.requests} x ${r.rounds}`, ms(r.p50Ms), ms(r.p99Ms), r.p99Rounds.map(ms).join(" / "), `${(r.p99Ms / idle).toFixed(2)}x`]),
      notes: [
        `413 = refused from its Content-Length, unread (bodies over ${MAX_BODY_BYTES} bytes); 422 = read and parsed, refused by the signature length cap before any recovery; closed = the service hung up before the attacker finished sending`,
        "each attacker sends its next proposal as soon as the previous one is answered, on a fresh connection; both attackers of a row share one address, new in each round (127.0.<round>.<row>); p50/p99 are medians over the rounds",
        `refused body bytes cost their client tokens (burst ${PENALTY.burstBytes / 1024} KiB, refill ${PENALTY.bytesPerSecond / 1024} KiB/s); a client in debt waits unread, so after its burst an attacker is served about one proposal per (cost / refill) seconds`,
      ],
    },
  ];
}
