import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import type { ChainContext } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { chainReader, httpProvider, type ChainReader, type Eip1193 } from "./chain.ts";
import type { Reply, ServiceDeps } from "./handlers.ts";
import { parseJson } from "./request.ts";
import { matchRoute } from "./routes.ts";
import { openStore, SCHEMA_VERSION, StoreChainMismatch, StoreSchemaTooNew, type Store } from "./store.ts";

/**
 * `gatehouse tx-service`: a node:http server speaking the Safe Transaction Service API subset that
 * api-kit uses (routes.ts), backed by one SQLite file (store.ts) and the chain (chain.ts). Binds to
 * 127.0.0.1 unless told otherwise; port 0 picks a free port. One log line per request:
 * `METHOD /path STATUS N.Nms` (plus why, for a refused request). Never logs request bodies or keys.
 */

export const SERVICE_VERSION = "gatehouse-tx-service/0.1.0 (Safe Transaction Service 6.x API subset)";
/**
 * The largest request body read. A proposal is its Safe transaction fields (the data as hex) plus at most
 * 5,000 signature bytes; 256 KiB leaves room for 120 KiB of calldata (more than two contracts' worth of
 * init code). A larger body is refused from its Content-Length, unread.
 */
export const MAX_BODY_BYTES = 256 * 1024;
/** POST requests (the ones that parse JSON, read the chain and recover signatures) one client may have running at once... */
export const MAX_ACTIVE_PER_CLIENT = 4;
/** ...and waiting behind those; beyond this the client gets 429 (DRF's throttling answer) and nothing is read. */
export const MAX_QUEUED_PER_CLIENT = 32;
/**
 * Refused body-carrying requests cost their client (address) bytes from a token bucket: an honest client
 * is almost never refused, so the bucket only empties for one that keeps sending what the service must
 * read, parse and refuse (oversized or malformed proposals). Burst and refill are far above any honest
 * refusal rate (a refused 256 KiB body is ~1 ms of this thread; 128 KiB/s of them is under 0.1%).
 */
export const PENALTY = {
  // One refused body of the largest size read, then one every two seconds: an honest api-kit client is
  // never refused, and parsing refused bodies on the main thread is what delays everyone else.
  burstBytes: 256 * 1024,
  bytesPerSecond: 128 * 1024,
  /** A refused request whose body was small still costs a round of parsing and routing. */
  minCost: 4 * 1024,
  /**
   * A body refused from its Content-Length is not read, but the kernel still receives what the client
   * pushes before the refusal; no api-kit client sends one, so it costs as much as the largest body read.
   */
  unreadCost: MAX_BODY_BYTES,
  /** The longest a client over budget waits (unread) before the service answers 429 instead of reading. */
  maxHoldMs: 10_000,
} as const;
/** A request whose headers and body have not arrived within this many ms is dropped (slow senders). */
const REQUEST_TIMEOUT_MS = 30_000;

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
  /**
   * Host header values accepted besides the loopback names (localhost, 127.0.0.1, [::1] on the service's
   * port): `name` (any port) or `name:port`. A request naming another host is refused with 400 before it
   * is read, so a web page whose DNS name was rebound to 127.0.0.1 cannot reach the service.
   */
  allowedHosts?: string[];
  /**
   * Addresses of reverse proxies in front of the service (`--trusted-proxy`). Behind one, every request
   * comes from the proxy's address, so one client spending the per-client budgets would starve all of
   * them; a request from a trusted proxy is accounted to the client its X-Forwarded-For names (the
   * rightmost entry that is not itself a trusted proxy). From any other peer the header is ignored.
   */
  trustedProxies?: string[];
  /** Where the per-request lines go; defaults to stderr. Pass `() => {}` for silence. */
  log?: (line: string) => void;
  network?: string;
  /** The clock for delegate signatures (totp) and expiry dates; the system clock by default (tests set it). */
  now?: () => Date;
}

export interface TxService {
  /** http://host:port (api-kit's txServiceUrl is `${url}/api`). */
  url: string;
  port: number;
  host: string;
  chainId: bigint;
  store: Store;
  /** The Host header values answered (others get 400). */
  allowedHosts: string[];
  close(): Promise<void>;
}

export async function startTxService(options: TxServiceOptions): Promise<TxService> {
  const provider = options.provider ?? (options.ctx ? (options.ctx.connection.provider as unknown as Eip1193) : options.rpcUrl ? httpProvider(options.rpcUrl) : undefined);
  if (!provider) throw new GatehouseError("USAGE", { message: "tx-service needs a chain: ctx, provider or rpcUrl" });
  const network = options.network ?? options.ctx?.network ?? "(provider)";
  // A specific non-loopback bind address is a name clients use; a wildcard one is not. Validated before anything starts.
  const bindHost = options.host ?? "127.0.0.1";
  const extraHosts = [...(isWildcard(bindHost) || ["127.0.0.1", "::1", "localhost"].includes(bindHost) ? [] : [bindHost]), ...(options.allowedHosts ?? [])];
  hostAllowlist(0, extraHosts);
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
    if (e instanceof StoreSchemaTooNew) throw new GatehouseError("TX_SERVICE_STORE_TOO_NEW", { file: options.dbFile, found: e.found, known: SCHEMA_VERSION }, { cause: e });
    throw e;
  }
  const deps: ServiceDeps = { store, chain, chainId, network, version: SERVICE_VERSION, ...(options.now ? { now: options.now } : {}) };
  const log = options.log ?? ((line: string) => void process.stderr.write(line + "\n"));
  const inflight = new Set<Promise<void>>();

  const host = bindHost;
  let hosts: HostAllowlist | undefined;
  const budget = new ClientBudget(MAX_ACTIVE_PER_CLIENT, MAX_QUEUED_PER_CLIENT);
  const penalty = new ClientPenalty(PENALTY);
  const trusted = new Set((options.trustedProxies ?? []).map((a) => clientKey(a)));
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => {
    const p = handle({ deps, hosts: hosts!, budget, penalty, log, trusted }, req, res);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  hosts = hostAllowlist(port, extraHosts);
  const urlHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    host,
    chainId,
    store,
    allowedHosts: hosts.entries,
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

// ------------------------------------------------------------------ Host allowlist (pure)

export interface HostAllowlist {
  /** Whether a request's Host header names this service. */
  allows(hostHeader: string | undefined): boolean;
  /** The accepted values, for messages. */
  entries: string[];
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "";
}

/** "Example.COM.:80" -> { name: "example.com", port: "80" }; "[::1]:8000" -> { name: "[::1]", port: "8000" }. */
function splitHost(value: string): { name: string; port?: string } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::(\d{1,5}))?$/.exec(value.trim());
  if (!m) return undefined;
  return { name: m[1]!.toLowerCase().replace(/\.$/, ""), port: m[2] };
}

/** A bare IPv6 address as given to --host ("::1") in its Host-header form ("[::1]"). */
function bracketed(value: string): string {
  return value.includes(":") && !value.startsWith("[") && (value.match(/:/g)?.length ?? 0) > 1 ? `[${value}]` : value;
}

/**
 * The Host values the service answers: the loopback names on its own port, plus `extra` entries (`name`
 * matches any port, `name:port` that port only). Matching is on the whole name, case-insensitive, as
 * Django's ALLOWED_HOSTS does; there are no wildcards.
 */
export function hostAllowlist(port: number, extra: string[] = []): HostAllowlist {
  const rules: { name: string; port?: string }[] = ["localhost", "127.0.0.1", "[::1]"].map((name) => ({ name, port: String(port) }));
  for (const entry of extra) {
    const parsed = splitHost(bracketed(entry));
    if (!parsed) throw new GatehouseError("USAGE", { message: `--allowed-host: expected a host name or address, optionally with :port, got '${entry}'` });
    rules.push(parsed);
  }
  return {
    entries: rules.map((r) => (r.port ? `${r.name}:${r.port}` : r.name)),
    allows(header) {
      if (!header) return false;
      const h = splitHost(header);
      if (!h) return false;
      // A Host without a port means the scheme's default port (80).
      const port = h.port ?? "80";
      return rules.some((r) => r.name === h.name && (r.port === undefined || r.port === port));
    },
  };
}

// ------------------------------------------------------------------ per-client work budget

/**
 * At most `active` body-carrying requests of one client (remote address) are handled at once and at
 * most `queued` more wait; the rest are refused. One client flooding the service with large proposals
 * then holds at most `active + queued` bodies in memory and cannot starve other clients' requests, and
 * its requests beyond the queue cost nothing but the refusal.
 */
export class ClientBudget {
  private readonly clients = new Map<string, { active: number; waiting: (() => void)[] }>();
  private readonly active: number;
  private readonly queued: number;
  constructor(active: number, queued: number) {
    this.active = active;
    this.queued = queued;
  }

  /** Resolves with a release function once the client may proceed, or with undefined when it is over budget. */
  acquire(client: string): Promise<(() => void) | undefined> {
    let c = this.clients.get(client);
    if (!c) this.clients.set(client, (c = { active: 0, waiting: [] }));
    const entry = c;
    const release = () => {
      const next = entry.waiting.shift();
      if (next) next();
      else if (--entry.active === 0) this.clients.delete(client);
    };
    if (entry.active < this.active) {
      entry.active++;
      return Promise.resolve(release);
    }
    if (entry.waiting.length >= this.queued) return Promise.resolve(undefined);
    return new Promise((resolve) => entry.waiting.push(() => resolve(release)));
  }
}

/**
 * The client a request is accounted to: its address, with an IPv4-mapped IPv6 address as IPv4 and an
 * IPv6 address by its /64 (one host usually holds a whole /64, so per-address accounting would not hold it).
 */
export function clientKey(remoteAddress: string | undefined): string {
  const a = (remoteAddress ?? "?").toLowerCase();
  if (a.startsWith("::ffff:") && a.includes(".")) return a.slice("::ffff:".length);
  if (!a.includes(":")) return a;
  // Expand "::" to find the first four groups.
  const [head, tail] = a.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":");
  const t = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`;
}

/**
 * The client of a request: the peer, unless the peer is a trusted proxy; then the rightmost X-Forwarded-For
 * entry that is not a trusted proxy (entries to its left are whatever the client sent, so never believed).
 * A missing or malformed entry leaves the request accounted to the proxy.
 */
export function requestClient(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: ReadonlySet<string>): string {
  const key = clientKey(peer);
  if (!trusted.has(key) || forwardedFor === undefined) return key;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (!isIP(hop)) return key;
    const k = clientKey(hop);
    if (!trusted.has(k)) return k;
  }
  return key;
}

/**
 * Per-client token bucket of work the service did for nothing: each refused body-carrying request charges
 * its cost (bytes read, or a fixed cost), the bucket refills at a steady rate, and a client whose bucket
 * is empty waits, unread, until it has refilled. A client flooding the service with oversized proposals
 * is then served one request per (cost / rate) seconds; everything else it sends waits as an idle socket,
 * costing no CPU, and other clients (and its own GET requests) are not held up. Pure over its clock.
 */
export class ClientPenalty {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly held = new Map<string, number>();
  private readonly opts: { burstBytes: number; bytesPerSecond: number; maxHoldMs: number };
  private readonly now: () => number;
  constructor(opts: { burstBytes: number; bytesPerSecond: number; maxHoldMs: number }, now: () => number = () => performance.now()) {
    this.opts = opts;
    this.now = now;
  }

  private refill(client: string): { tokens: number; at: number } | undefined {
    const b = this.buckets.get(client);
    if (!b) return undefined;
    const t = this.now();
    b.tokens = Math.min(this.opts.burstBytes, b.tokens + ((t - b.at) * this.opts.bytesPerSecond) / 1000);
    b.at = t;
    return b;
  }

  /** Milliseconds until the client's bucket is no longer in debt (0: go ahead). */
  delay(client: string): number {
    const b = this.refill(client);
    if (!b || b.tokens >= 0) return 0;
    return Math.ceil((-b.tokens * 1000) / this.opts.bytesPerSecond);
  }

  /** Records `bytes` of work done for nothing for the client (negative: returns bytes reserved earlier). */
  charge(client: string, bytes: number): void {
    const b = this.refill(client) ?? { tokens: this.opts.burstBytes, at: this.now() };
    b.tokens = Math.min(this.opts.burstBytes, b.tokens - bytes);
    this.buckets.set(client, b);
    // Forget clients whose buckets are full again, so the map stays as small as the set of offenders.
    if (this.buckets.size > 1024) for (const key of [...this.buckets.keys()]) if (this.refill(key)!.tokens >= this.opts.burstBytes) this.buckets.delete(key);
  }

  /**
   * Waits (without reading anything) until the client may be served: true, or false when it would wait
   * longer than maxHoldMs or already has `maxHeld` requests waiting (answer 429 then).
   */
  async hold(client: string, maxHeld: number, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<boolean> {
    let wait = this.delay(client);
    if (wait === 0) return true;
    const held = this.held.get(client) ?? 0;
    if (wait > this.opts.maxHoldMs || held >= maxHeld) return false;
    this.held.set(client, held + 1);
    try {
      // Re-checked after each sleep: requests of the same client that went first may have charged more.
      for (let waited = 0; wait > 0; wait = this.delay(client)) {
        if (waited + wait > this.opts.maxHoldMs) return false;
        await sleep(wait);
        waited += wait;
      }
      return true;
    } finally {
      const left = (this.held.get(client) ?? 1) - 1;
      if (left === 0) this.held.delete(client);
      else this.held.set(client, left);
    }
  }
}

// ------------------------------------------------------------------ request handling

interface Shell {
  deps: ServiceDeps;
  hosts: HostAllowlist;
  budget: ClientBudget;
  penalty: ClientPenalty;
  log: (line: string) => void;
  /** Client keys of the trusted reverse proxies (requestClient). */
  trusted: ReadonlySet<string>;
}

/** What a request cost the service if it is refused, and what was reserved from its client's bucket up front. */
interface Cost {
  bytes: number;
  reserved: number;
}

/** Reply sent without reading the request body: the connection is closed after it, so the body is never read. */
interface Early extends Reply {
  close: true;
}

function readBody(req: IncomingMessage): Promise<string | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      // Stop reading at the limit (a chunked body has no Content-Length to refuse it by).
      req.off("data", onData);
      req.pause();
      resolve("too-large");
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Printable, bounded text of a client-supplied value, for the log line. */
function shown(value: string): string {
  const clean = value.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 100 ? clean.slice(0, 100) + "..." : clean;
}

async function handle({ deps, hosts, budget, penalty, log, trusted }: Shell, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const method = req.method ?? "GET";
  let url: URL;
  let reply: Reply | Early;
  let release: (() => void) | undefined;
  const client = requestClient(req.socket.remoteAddress, req.headers["x-forwarded-for"], trusted);
  const cost: Cost = { bytes: 0, reserved: 0 };
  try {
    url = new URL(req.url ?? "/", "http://127.0.0.1");
  } catch {
    url = new URL("http://127.0.0.1/");
  }
  try {
    const host = req.headers.host;
    if (!hosts.allows(host)) {
      // Django's DisallowedHost answer (400), before anything is read or stored.
      const detail = `Invalid HTTP_HOST header: '${shown(host ?? "")}'. The service answers only ${hosts.entries.join(", ")} (gatehouse tx-service --allowed-host).`;
      reply = { status: 400, body: { detail }, reason: `host not allowed: '${shown(host ?? "")}'`, close: true };
    } else {
      url = new URL(`${url.pathname}${url.search}`, `http://${host}`);
      reply = await route(deps, method, url, req, { budget, penalty, client, cost }, (r) => (release = r));
    }
  } catch (e) {
    // Never echo internals beyond a message; the log line carries it for the operator.
    reply = { status: 500, body: { detail: "Internal error" }, reason: (e as Error).message?.split("\n")[0] ?? String(e) };
  } finally {
    release?.();
  }
  // Work done for a request that is refused (4xx, not 429) is charged to its client; 5xx is the service's
  // own fault. The reservation made before reading is settled: returned for an accepted request.
  const refused = reply.status >= 400 && reply.status < 500 && reply.status !== 429;
  if (cost.reserved !== 0 || (refused && cost.bytes > 0)) penalty.charge(client, (refused ? cost.bytes : 0) - cost.reserved);
  const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
  const headers: Record<string, string | number> = { "content-type": "application/json", "content-length": Buffer.byteLength(payload) };
  if ("close" in reply) headers.connection = "close";
  res.writeHead(reply.status, headers);
  res.end(method === "HEAD" ? undefined : payload);
  const ms = (performance.now() - started).toFixed(1);
  log(`${method} ${url.pathname}${url.search} ${reply.status} ${ms}ms${reply.reason && reply.status >= 400 ? ` - ${reply.reason}` : ""}`);
}

interface Accounting {
  budget: ClientBudget;
  penalty: ClientPenalty;
  client: string;
  cost: Cost;
}

async function route(deps: ServiceDeps, method: string, url: URL, req: IncomingMessage, { budget, penalty, client, cost }: Accounting, held: (release: () => void) => void): Promise<Reply | Early> {
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
  if (method === "POST" || method === "DELETE") {
    // A client that keeps sending what must be refused waits here, its body unread, before anything else;
    // the wait ends early when it hangs up (nothing is left to answer, and the server can close at once).
    const socket = req.socket;
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          socket.off("close", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        socket.once("close", done);
      });
    const allowed = await penalty.hold(client, MAX_QUEUED_PER_CLIENT, sleep);
    if (socket.destroyed) return { status: 429, body: { detail: "Request was throttled." }, reason: `client ${client} hung up while held`, close: true };
    if (!allowed) {
      const seconds = Math.max(1, Math.ceil(penalty.delay(client) / 1000));
      return { status: 429, body: { detail: `Request was throttled. Expected available in ${seconds} seconds.` }, reason: `client ${client} over its budget of refused request bytes`, close: true };
    }
    const tooLarge: Early = { status: 413, body: { detail: "Request body too large." }, reason: `body over ${MAX_BODY_BYTES} bytes`, close: true };
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      cost.bytes = PENALTY.unreadCost;
      return tooLarge;
    }
    // Reserved before reading, so that the client's other requests waiting in hold() see it at once: two
    // held requests woken together cannot both spend the same refill.
    cost.reserved = Math.max(PENALTY.minCost, Number.isFinite(declared) ? declared : 0);
    penalty.charge(client, cost.reserved);
    const release = await budget.acquire(client);
    if (!release) {
      return { status: 429, body: { detail: "Request was throttled." }, reason: `over ${MAX_ACTIVE_PER_CLIENT} running + ${MAX_QUEUED_PER_CLIENT} queued requests from this client`, close: true };
    }
    held(release);
    const text = await readBody(req);
    if (text === "too-large") {
      cost.bytes = MAX_BODY_BYTES;
      return tooLarge;
    }
    cost.bytes = Math.max(PENALTY.minCost, text.length);
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
