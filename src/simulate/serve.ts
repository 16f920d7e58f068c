import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An EIP-1193 provider: what Hardhat connections and ethers' BrowserProvider take. */
export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

export interface ServedRpc {
  url: string;
  /** JSON-RPC requests that reached the fork source so far (each element of a batch counts; cache hits do not). */
  requests(): number;
  /** JSON-RPC requests received from the fork (EDR), cache hits included. */
  received(): number;
  close(): Promise<void>;
}

/**
 * Answers of the fork source for one pinned block, identified by number and hash (a reorg that replaces
 * the block gives another hash, hence another partition). Only requests whose answer cannot change at
 * that block are kept: the chain id, and state reads (storage, code, balance, nonce, calls, the block
 * itself) that name the pinned block by number. A `latest` read, an error or an empty answer is never kept.
 */
export interface BlockCache {
  block: number;
  entries: Map<string, unknown>;
}

/** Pinned-block caches shared by simulations (the watcher's, the bench's), the newest `keep` blocks. */
export function forkCache(keep = 4): { at(block: number, hash: string): BlockCache; hits(): number; hit(): void } {
  const parts = new Map<string, BlockCache>();
  let hits = 0;
  return {
    at(block, hash) {
      const id = `${block}:${hash.toLowerCase()}`;
      let part = parts.get(id);
      if (!part) {
        part = { block, entries: new Map() };
        parts.set(id, part);
        // Maps iterate in insertion order: the oldest partitions go first.
        while (parts.size > keep) parts.delete(parts.keys().next().value!);
      }
      return part;
    },
    hits: () => hits,
    hit: () => void hits++,
  };
}

/** Position of the block tag in the params of the read methods a fork makes. */
const BLOCK_PARAM: Record<string, number> = {
  eth_getStorageAt: 2,
  eth_getBalance: 1,
  eth_getCode: 1,
  eth_getTransactionCount: 1,
  eth_call: 1,
  eth_getBlockByNumber: 0,
  eth_getProof: 2,
};
const CHAIN_CONSTANT = new Set(["eth_chainId", "net_version"]);

/** The cache key of a request immutable at the pinned block, or undefined when it must reach the source. */
export function pinnedKey(method: string, params: unknown[], block: number): string | undefined {
  if (CHAIN_CONSTANT.has(method)) return method;
  const at = BLOCK_PARAM[method];
  if (at === undefined) return undefined;
  const tag = params[at];
  if (typeof tag !== "string" || !/^0x[0-9a-fA-F]+$/.test(tag) || BigInt(tag) !== BigInt(block)) return undefined;
  return `${method}:${JSON.stringify(params).toLowerCase()}`;
}

/**
 * Serves an EIP-1193 provider as JSON-RPC over HTTP on loopback. The in-process Hardhat network has no
 * URL, and EDR forks only from a URL: this makes the in-process chain a fork source exactly like a
 * `hardhat node` or a public RPC (real HTTP, real JSON-RPC), without starting a second chain.
 */
export async function serveRpc(provider: Eip1193, host = "127.0.0.1", opts: { cache?: BlockCache; onHit?: () => void } = {}): Promise<ServedRpc> {
  let count = 0;
  let received = 0;
  const answer = async (req: { id?: unknown; method?: string; params?: unknown[] }): Promise<unknown> => {
    received++;
    const method = String(req.method);
    const params = req.params ?? [];
    const key = opts.cache ? pinnedKey(method, params, opts.cache.block) : undefined;
    if (key !== undefined && opts.cache!.entries.has(key)) {
      opts.onHit?.();
      return { jsonrpc: "2.0", id: req.id ?? null, result: opts.cache!.entries.get(key) };
    }
    count++;
    try {
      const result = await provider.request({ method, params });
      if (key !== undefined && result !== null && result !== undefined) opts.cache!.entries.set(key, result);
      return { jsonrpc: "2.0", id: req.id ?? null, result: result ?? null };
    } catch (e) {
      const err = e as { code?: number; message?: string; data?: unknown };
      return { jsonrpc: "2.0", id: req.id ?? null, error: { code: typeof err.code === "number" ? err.code : -32603, message: err.message ?? String(e), data: err.data } };
    }
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "parse error" } }));
          return;
        }
        const out = Array.isArray(body) ? await Promise.all(body.map((b) => answer(b))) : await answer(body as never);
        res.writeHead(200, { "content-type": "application/json", connection: "close" }).end(JSON.stringify(out, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)));
      })();
    });
  });
  // One connection per request: a keep-alive socket the server times out while EDR's client reuses it
  // stalled the fork for minutes (seen intermittently); loopback connections are cheap.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    requests: () => count,
    received: () => received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * An HTTP JSON-RPC endpoint as an EIP-1193 provider (one POST per request), so a remote fork source can
 * be served through the cache above. Errors keep their JSON-RPC code, message and data.
 */
export function httpEip1193(url: string): Eip1193 {
  let id = 1;
  return {
    async request({ method, params }) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: id++, method, params: params ?? [] }) });
      if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status} from the fork source for ${method}`), { code: -32603 });
      const body = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: unknown } };
      if (body.error) throw Object.assign(new Error(body.error.message), { code: body.error.code, data: body.error.data });
      return body.result;
    },
  };
}
