import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** An EIP-1193 provider: what Hardhat connections and ethers' BrowserProvider take. */
export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

export interface ServedRpc {
  url: string;
  /** JSON-RPC requests answered so far (each element of a batch counts). */
  requests(): number;
  close(): Promise<void>;
}

/**
 * Serves an EIP-1193 provider as JSON-RPC over HTTP on loopback. The in-process Hardhat network has no
 * URL, and EDR forks only from a URL: this makes the in-process chain a fork source exactly like a
 * `hardhat node` or a public RPC (real HTTP, real JSON-RPC), without starting a second chain.
 */
export async function serveRpc(provider: Eip1193, host = "127.0.0.1"): Promise<ServedRpc> {
  let count = 0;
  const answer = async (req: { id?: unknown; method?: string; params?: unknown[] }): Promise<unknown> => {
    count++;
    try {
      const result = await provider.request({ method: String(req.method), params: req.params ?? [] });
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
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
