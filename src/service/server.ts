import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ChainContext } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { chainReader, httpProvider, type ChainReader, type Eip1193 } from "./chain.ts";
import type { Reply, ServiceDeps } from "./handlers.ts";
import { parseJson } from "./request.ts";
import { matchRoute } from "./routes.ts";
import { openStore, StoreChainMismatch, type Store } from "./store.ts";

/**
 * `gatehouse tx-service`: a node:http server speaking the Safe Transaction Service API subset that
 * api-kit uses (routes.ts), backed by one SQLite file (store.ts) and the chain (chain.ts). Binds to
 * 127.0.0.1 unless told otherwise; port 0 picks a free port. One log line per request:
 * `METHOD /path STATUS N.Nms` (plus why, for a refused request). Never logs request bodies or keys.
 */

export const SERVICE_VERSION = "gatehouse-tx-service/0.1.0 (Safe Transaction Service 6.x API subset)";
const MAX_BODY_BYTES = 1024 * 1024;

export interface TxServiceOptions {
  /** A Gatehouse chain context (its EIP-1193 provider is used), or a bare provider, or an RPC URL. */
  ctx?: Pick<ChainContext, "connection" | "network">;
  provider?: Eip1193;
  rpcUrl?: string;
  /** Expected chain id; the service refuses to start on another chain. Read from the chain when omitted. */
  chainId?: bigint;
  /** SQLite file (created if missing); ":memory:" for a throw-away store. */
  dbFile: string;
  host?: string;
  port?: number;
  /** Where the per-request lines go; defaults to stderr. Pass `() => {}` for silence. */
  log?: (line: string) => void;
  network?: string;
}

export interface TxService {
  /** http://host:port (api-kit's txServiceUrl is `${url}/api`). */
  url: string;
  port: number;
  host: string;
  chainId: bigint;
  store: Store;
  close(): Promise<void>;
}

export async function startTxService(options: TxServiceOptions): Promise<TxService> {
  const provider = options.provider ?? (options.ctx ? (options.ctx.connection.provider as unknown as Eip1193) : options.rpcUrl ? httpProvider(options.rpcUrl) : undefined);
  if (!provider) throw new GatehouseError("USAGE", { message: "tx-service needs a chain: ctx, provider or rpcUrl" });
  const network = options.network ?? options.ctx?.network ?? "(provider)";
  const chain: ChainReader = chainReader(provider);
  const [chainId, genesisHash] = await Promise.all([chain.chainId(), chain.genesisHash()]);
  if (options.chainId !== undefined && options.chainId !== chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: "(tx-service --network)", expected: options.chainId, network, actual: chainId });
  }
  let store: Store;
  try {
    store = openStore(options.dbFile, { chainId, genesisHash });
  } catch (e) {
    if (e instanceof StoreChainMismatch) {
      throw new GatehouseError("CHAIN_MISMATCH", { file: options.dbFile, expected: `${e.expected.chainId} (genesis ${e.expected.genesisHash})`, network, actual: `${chainId} (genesis ${genesisHash}); use another --db or remove the file` }, { cause: e });
    }
    throw e;
  }
  const deps: ServiceDeps = { store, chain, chainId, network, version: SERVICE_VERSION };
  const log = options.log ?? ((line: string) => void process.stderr.write(line + "\n"));
  const inflight = new Set<Promise<void>>();

  const server = createServer((req, res) => {
    const p = handle(deps, req, res, log);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    chainId,
    store,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Let requests already being handled finish their store writes before the file is closed.
        await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 5000).unref())]);
        server.closeAllConnections();
        await closed;
        store.close();
      })();
      return closing;
    },
  };
}

function readBody(req: IncomingMessage): Promise<string | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > MAX_BODY_BYTES ? "too-large" : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function handle(deps: ServiceDeps, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): Promise<void> {
  const started = performance.now();
  const method = req.method ?? "GET";
  let url: URL;
  let reply: Reply;
  try {
    url = new URL(req.url ?? "/", `http://${req.headers.host ?? "127.0.0.1"}`);
  } catch {
    url = new URL("http://127.0.0.1/");
  }
  try {
    reply = await route(deps, method, url, req);
  } catch (e) {
    // Never echo internals beyond a message; the log line carries it for the operator.
    reply = { status: 500, body: { detail: "Internal error" }, reason: (e as Error).message?.split("\n")[0] ?? String(e) };
  }
  const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(method === "HEAD" ? undefined : payload);
  const ms = (performance.now() - started).toFixed(1);
  log(`${method} ${url.pathname}${url.search} ${reply.status} ${ms}ms${reply.reason && reply.status >= 400 ? ` - ${reply.reason}` : ""}`);
}

async function route(deps: ServiceDeps, method: string, url: URL, req: IncomingMessage): Promise<Reply> {
  let match;
  try {
    match = matchRoute(method, url.pathname);
  } catch {
    match = undefined;
  }
  if (!match) {
    req.resume();
    return { status: 404, body: { detail: "Not found." }, reason: "no such endpoint" };
  }
  if ("methodNotAllowed" in match) {
    req.resume();
    return { status: 405, body: { detail: `Method "${method}" not allowed.` }, reason: "method not allowed" };
  }
  let body: unknown = undefined;
  if (method === "POST") {
    const text = await readBody(req);
    if (text === "too-large") return { status: 413, body: { detail: "Request body too large." }, reason: "body over 1 MiB" };
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (text.trim() !== "") {
      // DRF's parser negotiation: the real service only parses application/json bodies.
      if (type !== "application/json") return { status: 415, body: { detail: `Unsupported media type "${type}" in request.` }, reason: "not application/json" };
      try {
        body = parseJson(text);
      } catch (e) {
        // rest_framework/parsers.py JSONParser: ParseError('JSON parse error - %s') -> 400.
        const detail = `JSON parse error - ${(e as Error).message}`;
        return { status: 400, body: { detail }, reason: detail };
      }
    } else {
      body = {};
    }
  } else {
    req.resume();
  }
  return match.route.handler(deps, { url, params: match.params, body });
}
