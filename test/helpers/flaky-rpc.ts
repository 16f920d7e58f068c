import { createServer, type Server } from "node:http";
import { listenOnLoopback } from "./loopback.ts";

/**
 * A JSON-RPC endpoint on loopback in front of an EIP-1193 provider (the in-process Hardhat chain) that
 * misbehaves on purpose: a share of calls is dropped (the socket is destroyed without an answer),
 * delayed (past the client's timeout, or just slow), or answered with an error (HTTP 500, 429 with
 * Retry-After, JSON-RPC internal error). eth_getLogs over more than `maxLogsRange` blocks is refused
 * the way hosted nodes refuse it. Faults are drawn from a seeded generator, so a run is reproducible.
 */
export interface FlakyStats {
  calls: number;
  dropped: number;
  delayed: number;
  errored: number;
  rangeRefused: number;
  passed: number;
}

export interface FlakyRpc {
  url: string;
  stats: FlakyStats;
  close(): Promise<void>;
}

export interface FlakyOptions {
  provider: { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
  /** Share of calls that misbehave (0..1), split evenly between drop, delay and error. */
  faultRate?: number;
  /** Delay of a delayed call, in ms (beyond the client's timeout to look like a hang). */
  delayMs?: number;
  maxLogsRange?: number;
  seed?: number;
}

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFlakyRpc(opts: FlakyOptions): Promise<FlakyRpc> {
  const random = prng(opts.seed ?? 42);
  const rate = opts.faultRate ?? 0.3;
  const stats: FlakyStats = { calls: 0, dropped: 0, delayed: 0, errored: 0, rangeRefused: 0, passed: 0 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const call = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { id: number; method: string; params?: unknown[] };
    stats.calls++;
    const reply = (body: unknown) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    const roll = random();
    if (roll < rate) {
      const which = Math.floor((roll / rate) * 3);
      if (which === 0) {
        stats.dropped++;
        req.socket.destroy();
        return;
      }
      if (which === 1) {
        stats.delayed++;
        // Half of the delays exceed the client's timeout, half are merely slow and still answered.
        await new Promise((r) => setTimeout(r, random() < 0.5 ? (opts.delayMs ?? 400) : 30));
        if (res.destroyed || req.socket.destroyed) return;
      } else {
        stats.errored++;
        const kind = random();
        if (kind < 0.34) return res.writeHead(500).end("upstream error");
        if (kind < 0.67) return res.writeHead(429, { "retry-after": "0" }).end("rate limited");
        return reply({ jsonrpc: "2.0", id: call.id, error: { code: -32603, message: "internal error: upstream timeout" } });
      }
    }
    if (call.method === "eth_getLogs" && opts.maxLogsRange !== undefined) {
      const f = (call.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string };
      const span = Number(BigInt(f.toBlock ?? "0x0")) - Number(BigInt(f.fromBlock ?? "0x0")) + 1;
      if (span > opts.maxLogsRange) {
        stats.rangeRefused++;
        return reply({ jsonrpc: "2.0", id: call.id, error: { code: -32005, message: `query exceeds max block range ${opts.maxLogsRange}` } });
      }
    }
    try {
      const result = await opts.provider.request({ method: call.method, params: call.params ?? [] });
      stats.passed++;
      if (!res.destroyed) reply({ jsonrpc: "2.0", id: call.id, result });
    } catch (e) {
      const err = e as { code?: number; message?: string };
      if (!res.destroyed) reply({ jsonrpc: "2.0", id: call.id, error: { code: err.code ?? -32603, message: err.message ?? String(e) } });
    }
  });
  const loopback = await listenOnLoopback(server);
  return {
    url: loopback.origin,
    stats,
    close: loopback.close,
  };
}
