import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A JSON-RPC endpoint on loopback in front of the in-process chain that answers each HTTP request only
 * after `delayMs`, the way a hosted RPC tens of milliseconds away does. It stands in for the public
 * RPC this machine cannot reach. A JSON-RPC batch (an array) is one request and pays the delay once,
 * as it does over a real network; requests are served concurrently, as a real node does. `refuseBatches`
 * and `status` make it behave like a node that takes no batches, or one that is failing.
 */
export interface LatencyProxy {
  url: string;
  /** HTTP requests served, and JSON-RPC calls inside them. */
  stats: { requests: number; calls: number };
  close(): Promise<void>;
}

type Provider = { request(args: { method: string; params?: unknown[] }): Promise<unknown> };
type Call = { jsonrpc?: string; id: unknown; method: string; params?: unknown[] };

async function answer(provider: Provider, call: Call): Promise<unknown> {
  try {
    return { jsonrpc: "2.0", id: call.id, result: await provider.request({ method: call.method, params: call.params ?? [] }) };
  } catch (e) {
    const err = e as { code?: number; message?: string };
    return { jsonrpc: "2.0", id: call.id, error: { code: typeof err.code === "number" ? err.code : -32603, message: err.message ?? String(e) } };
  }
}

export async function startLatencyProxy(provider: Provider, delayMs: number, opts: { refuseBatches?: boolean; status?: number } = {}): Promise<LatencyProxy> {
  const stats = { requests: 0, calls: 0 };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Call | Call[];
    stats.requests++;
    stats.calls += Array.isArray(body) ? body.length : 1;
    await new Promise((r) => setTimeout(r, delayMs));
    if (opts.status) return void res.writeHead(opts.status, { "content-type": "text/plain" }).end("busy");
    // Some hosted tiers refuse batches with one error object.
    if (opts.refuseBatches && Array.isArray(body)) return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "batch requests are not supported" } }));
    const out = Array.isArray(body) ? await Promise.all(body.map((c) => answer(provider, c))) : await answer(provider, body);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
