import { RpcError, postJsonRpc, type Rpc } from "./rpc.ts";

/**
 * JSON-RPC over HTTP that sends the calls made in the same tick as one batch (JSON-RPC 2.0 batch: an
 * array in, an array out). Against a hosted RPC the round trip, not the work, is the cost: reading the
 * facts of 50 operations concurrently becomes one request instead of 50.
 *
 * Each call still succeeds or fails on its own, with the same RpcError shapes as `httpRpc` (HTTP status,
 * JSON-RPC code), so `retryingRpc` above it retries exactly the calls that failed, one by one, and a
 * refused range still surfaces for the indexer to halve. A node that refuses batches (some hosted tiers
 * answer a batch with an error object instead of an array) is detected once and the client then sends
 * calls singly.
 */
export interface BatchingOptions {
  timeoutMs?: number;
  /** Most calls in one batch (hosted RPCs cap batches, often at 50–100). */
  maxBatch?: number;
  headers?: Record<string, string>;
}

interface Pending {
  id: number;
  method: string;
  params: unknown[];
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

type Reply = { id?: unknown; result?: unknown; error?: { code: number; message: string } };

export function batchingHttpRpc(url: string, opts: BatchingOptions = {}): Rpc {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBatch = opts.maxBatch ?? 50;
  let queue: Pending[] = [];
  let scheduled = false;
  let batchesRefused = false;
  let nextId = 1;

  const post = (body: unknown, label: string) => postJsonRpc(url, body, label, { timeoutMs, ...(opts.headers ? { headers: opts.headers } : {}) });

  function settle(call: Pending, reply: Reply | undefined): void {
    if (!reply) call.reject(new RpcError(call.method, `${call.method}: the batch answer has no reply for this call`));
    else if (reply.error) call.reject(new RpcError(call.method, `${call.method}: ${reply.error.message}`, { code: reply.error.code }));
    else call.resolve(reply.result);
  }

  async function sendSingly(calls: Pending[]): Promise<void> {
    await Promise.all(
      calls.map(async (c) => {
        try {
          settle(c, (await post({ jsonrpc: "2.0", id: c.id, method: c.method, params: c.params }, c.method)) as Reply);
        } catch (e) {
          c.reject(e);
        }
      }),
    );
  }

  async function send(calls: Pending[]): Promise<void> {
    if (calls.length === 1 || batchesRefused) return sendSingly(calls);
    const methods = [...new Set(calls.map((c) => c.method))].join(",");
    let answer: unknown;
    try {
      answer = await post(calls.map((c) => ({ jsonrpc: "2.0", id: c.id, method: c.method, params: c.params })), methods);
    } catch (e) {
      // The whole request failed (network, HTTP status): every call in it failed the same way.
      for (const c of calls) c.reject(e instanceof RpcError ? new RpcError(c.method, e.message, { code: e.code, status: e.status, retryAfterMs: e.retryAfterMs, cause: e.cause }) : e);
      return;
    }
    if (!Array.isArray(answer)) {
      // A node that does not take batches answers with one error object: fall back to single calls for good.
      batchesRefused = true;
      return sendSingly(calls);
    }
    const byId = new Map<unknown, Reply>();
    for (const r of answer as Reply[]) byId.set(r?.id, r);
    for (const c of calls) settle(c, byId.get(c.id));
  }

  function flush(): void {
    scheduled = false;
    const calls = queue;
    queue = [];
    for (let i = 0; i < calls.length; i += maxBatch) void send(calls.slice(i, i + maxBatch));
  }

  return {
    request<T>(method: string, params: unknown[] = []): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ id: nextId++, method, params, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          // Every call made before the event loop turns goes into the same batch.
          setImmediate(flush);
        }
      });
    },
  };
}
