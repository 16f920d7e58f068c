/**
 * JSON-RPC for the watcher: a minimal client over HTTP or over an EIP-1193 provider, and a wrapper that
 * retries transient failures (dropped connections, timeouts, rate limits, 5xx, internal errors) with
 * exponential backoff and jitter, counting every failure for the metrics. A block range the node refuses
 * is not retried here: it surfaces as a RangeRefused error so the indexer can halve the range.
 */
export interface Rpc {
  request<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

export type RpcFailure = "range" | "transient" | "fatal";

export class RpcError extends Error {
  code?: number;
  status?: number;
  retryAfterMs?: number;
  method: string;
  constructor(method: string, message: string, extra: { code?: number; status?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: extra.cause });
    this.name = "RpcError";
    this.method = method;
    this.code = extra.code;
    this.status = extra.status;
    this.retryAfterMs = extra.retryAfterMs;
  }
}

const RANGE = /block range|range (is )?too (large|wide|big)|exceed(s|ed)? (the )?(maximum|max|limit)|query returned more than|too many (results|logs|blocks)|limit exceeded|response size|max(imum)? (block )?range|log response size|range limit/i;
const FATAL = /execution reverted|invalid argument|method not found|does not exist|not supported|missing trie node|historical state|pruned|unknown block/i;

/** Which failure this is: a refused range (shrink it), transient (retry), or fatal (give up now). */
export function classifyRpcError(e: unknown, method = ""): RpcFailure {
  const err = e as { code?: unknown; status?: unknown; message?: unknown; name?: unknown };
  const message = String(err?.message ?? e);
  const code = typeof err?.code === "number" ? err.code : undefined;
  const status = typeof err?.status === "number" ? err.status : undefined;
  if (method === "eth_getLogs" && (RANGE.test(message) || (code === -32005 && /log|range|block|result/i.test(message)))) return "range";
  if (status === 429 || (status !== undefined && status >= 500)) return "transient";
  if (status !== undefined && status >= 400) return "fatal";
  if (FATAL.test(message)) return "fatal";
  if (code === -32601 || code === -32602 || code === 3) return "fatal";
  // Everything else (network errors, timeouts, -32603 internal, -32000 busy/header not found, -32005 rate limit) is worth retrying.
  return "transient";
}

let nextId = 1;

/**
 * One JSON-RPC POST: the parsed body, or an RpcError labelled `label` (HTTP status, Retry-After, a timeout,
 * a dropped connection, an unreadable body). Shared by the single-call and the batching clients.
 */
export async function postJsonRpc(url: string, body: unknown, label: string, opts: { timeoutMs: number; headers?: Record<string, string> }): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...opts.headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (e) {
    const reason = (e as Error).name === "TimeoutError" ? `timed out after ${opts.timeoutMs} ms` : `${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ""}`;
    throw new RpcError(label, `${label}: ${reason}`, { cause: e });
  }
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    throw new RpcError(label, `${label}: connection dropped while reading the response`, { cause: e });
  }
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("retry-after"));
    throw new RpcError(label, `${label}: HTTP ${response.status} ${text.slice(0, 200)}`, {
      status: response.status,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
    });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new RpcError(label, `${label}: unreadable response (${text.slice(0, 80)})`, { cause: e });
  }
}

/** JSON-RPC over HTTP(S) with a per-request timeout. */
export function httpRpc(url: string, opts: { timeoutMs?: number; headers?: Record<string, string> } = {}): Rpc {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async request<T>(method: string, params: unknown[] = []): Promise<T> {
      const body = (await postJsonRpc(url, { jsonrpc: "2.0", id: nextId++, method, params }, method, { timeoutMs, ...(opts.headers ? { headers: opts.headers } : {}) })) as {
        result?: T;
        error?: { code: number; message: string };
      };
      if (body.error) throw new RpcError(method, `${method}: ${body.error.message}`, { code: body.error.code });
      return body.result as T;
    },
  };
}

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

/** The same interface over an in-process EIP-1193 provider (Hardhat's network connection). */
export function eip1193Rpc(provider: Eip1193): Rpc {
  return {
    async request<T>(method: string, params: unknown[] = []): Promise<T> {
      try {
        return (await provider.request({ method, params })) as T;
      } catch (e) {
        const err = e as { code?: number; message?: string };
        throw new RpcError(method, `${method}: ${err.message ?? String(e)}`, { code: typeof err.code === "number" ? err.code : undefined, cause: e });
      }
    },
  };
}

export interface RetryOptions {
  /** Attempts after the first one before giving up (the caller then retries the whole step later). */
  retries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called for every failed attempt, with its classification (metrics, logs). */
  onError?: (method: string, failure: RpcFailure, error: unknown) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Retry transient failures with exponential backoff and full jitter; never turns a failure into a result. */
export function retryingRpc(inner: Rpc, opts: RetryOptions = {}): Rpc {
  const retries = opts.retries ?? 8;
  const base = opts.baseDelayMs ?? 200;
  const max = opts.maxDelayMs ?? 10_000;
  const wait = opts.sleep ?? sleep;
  const random = opts.random ?? Math.random;
  return {
    async request<T>(method: string, params: unknown[] = []): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        try {
          return await inner.request<T>(method, params);
        } catch (e) {
          const failure = classifyRpcError(e, method);
          opts.onError?.(method, failure, e);
          if (failure !== "transient" || attempt >= retries) throw e;
          const backoff = Math.min(max, base * 2 ** attempt);
          const retryAfter = (e as RpcError).retryAfterMs ?? 0;
          await wait(Math.max(retryAfter, Math.round(backoff / 2 + (random() * backoff) / 2)));
        }
      }
    },
  };
}

/** One configured JSON-RPC endpoint; `origin` labels its metrics and logs (never the full URL, which may hold a key). */
export interface Endpoint {
  origin: string;
  rpc: Rpc;
}

/** scheme://host[:port] of a URL: no user info, path or query (providers put API keys there). */
export function rpcOrigin(url: string): string {
  try {
    const u = new URL(url);
    return u.origin === "null" ? `${u.protocol}//` : u.origin;
  } catch {
    return "invalid-url";
  }
}

/**
 * The node did not answer (connection refused or dropped, timeout, HTTP 429/5xx): worth trying another
 * node. A JSON-RPC error answer (a revert, a refused range, an unknown method) is the chain's answer, the
 * same from every node: it is returned as is.
 */
export function isTransportFailure(e: unknown): boolean {
  const err = e as { code?: unknown; status?: unknown };
  if (typeof err?.status === "number") return err.status === 429 || err.status >= 500;
  return typeof err?.code !== "number";
}

/**
 * Failover across endpoints in order: a request that fails at the transport level is sent to the next
 * endpoint, and the one that answered stays in use (sticky) until it fails in turn. When every endpoint
 * fails, the last error is thrown (retryingRpc above retries the whole round with backoff).
 */
export function failoverRpc(endpoints: Endpoint[], hooks: { onFailover?: (from: string, to: string, e: unknown) => void; onActive?: (origin: string) => void } = {}): Rpc & { active(): string } {
  if (endpoints.length === 0) throw new Error("failoverRpc: no endpoint");
  let current = 0;
  hooks.onActive?.(endpoints[0]!.origin);
  return {
    active: () => endpoints[current]!.origin,
    async request<T>(method: string, params: unknown[] = []): Promise<T> {
      const start = current;
      let lastError: unknown;
      for (let i = 0; i < endpoints.length; i++) {
        const index = (start + i) % endpoints.length;
        try {
          const result = await endpoints[index]!.rpc.request<T>(method, params);
          if (index !== current) {
            current = index;
            hooks.onActive?.(endpoints[index]!.origin);
          }
          return result;
        } catch (e) {
          if (!isTransportFailure(e) || endpoints.length === 1) throw e;
          lastError = e;
          const next = endpoints[(index + 1) % endpoints.length]!;
          if (i < endpoints.length - 1) hooks.onFailover?.(endpoints[index]!.origin, next.origin, e);
        }
      }
      throw lastError;
    },
  };
}

/** Time every request (latency histograms) and report whether the node answered at all. */
export function timedRpc(inner: Rpc, observe: (method: string, seconds: number, answered: boolean) => void): Rpc {
  return {
    async request<T>(method: string, params: unknown[] = []): Promise<T> {
      const t0 = performance.now();
      try {
        const r = await inner.request<T>(method, params);
        observe(method, (performance.now() - t0) / 1000, true);
        return r;
      } catch (e) {
        observe(method, (performance.now() - t0) / 1000, !isTransportFailure(e));
        throw e;
      }
    },
  };
}
