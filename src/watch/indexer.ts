import { decodeLog, groupsOf, type RawLog, type WatchedEvent } from "./events.ts";
import type { Checkpoint, Ledger } from "./ledger.ts";
import { classifyRpcError, type Rpc } from "./rpc.ts";

/**
 * The indexer: from the checkpoint to the confirmed head in bounded eth_getLogs ranges. A range the node
 * refuses is halved (down to one block) and grows back after a run of successes; nothing advances the
 * checkpoint but a range fully fetched and stored. Each range is read between two reads of its last
 * block's hash, and the checkpoint's own hash is re-checked, so a reorg during the read is never stored;
 * a reorg below the checkpoint rolls the ledger back to the common ancestor and re-indexes from there.
 */
export interface RangeState {
  size: number;
  max: number;
  successes: number;
}

export function rangeState(max: number): RangeState {
  return { size: max, max, successes: 0 };
}

export interface IndexerHooks {
  onRange?(info: { from: number; to: number; logs: number; size: number }): void;
  onRangeRefused?(info: { from: number; to: number; size: number; error: unknown }): void;
  onReorg?(info: { from: number; ancestor: number; depth: number; groups: string[] }): void;
  onUnstable?(info: { from: number; to: number; reason: string }): void;
  /** Awaited after each committed range (the watcher posts there, so posts follow the chain closely). */
  afterCommit?(info: { from: number; to: number; dirty: string[] }): Promise<void>;
}

export interface IndexerOptions {
  rpc: Rpc;
  ledger: Ledger;
  addresses: string[];
  topics: string[];
  timelock: string;
  /** A block counts once it has this many confirmations (1 = the head itself). */
  confirmations: number;
  range: RangeState;
  /** First block to index when the ledger has no checkpoint. */
  startBlock: number;
  hooks?: IndexerHooks;
  /** Block hashes kept for reorg detection below the checkpoint (besides blocks with events). */
  keepBlocks?: number;
}

export interface Header {
  number: number;
  hash: string;
  parentHash: string;
  timestamp: number;
}

const hex = (n: number) => "0x" + n.toString(16);

export async function blockNumber(rpc: Rpc): Promise<number> {
  return Number(BigInt(await rpc.request<string>("eth_blockNumber", [])));
}

export async function header(rpc: Rpc, block: number | "latest"): Promise<Header | null> {
  const b = await rpc.request<{ number: string; hash: string; parentHash: string; timestamp: string } | null>("eth_getBlockByNumber", [
    block === "latest" ? "latest" : hex(block),
    false,
  ]);
  if (!b) return null;
  return { number: Number(BigInt(b.number)), hash: b.hash.toLowerCase(), parentHash: b.parentHash.toLowerCase(), timestamp: Number(BigInt(b.timestamp)) };
}

/** The first block where `address` has code (binary search over eth_getCode; needs historical state). */
export async function creationBlock(rpc: Rpc, address: string, head: number): Promise<number> {
  const hasCode = async (b: number) => {
    try {
      return (await rpc.request<string>("eth_getCode", [address, hex(b)])) !== "0x";
    } catch (e) {
      if (classifyRpcError(e, "eth_getCode") !== "fatal") throw e;
      throw new Error(`cannot find the block that created ${address}: the node has no state for block ${b} (not an archive node?); give the first block to watch (--from-block)`, { cause: e });
    }
  };
  if (!(await hasCode(head))) throw new Error(`${address} has no code at block ${head}`);
  let lo = 0;
  let hi = head;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (await hasCode(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** eth_getLogs for one range; a refusal is reported as such so the caller can shrink the range. */
export async function getLogs(rpc: Rpc, filter: { addresses: string[]; topics: string[] }, from: number, to: number, extraTopics: (string | null)[] = []): Promise<RawLog[]> {
  return rpc.request<RawLog[]>("eth_getLogs", [{ fromBlock: hex(from), toBlock: hex(to), address: filter.addresses, topics: [filter.topics, ...extraTopics] }]);
}

/**
 * Read [from, to] in ranges of at most `range.size` blocks, halving on refusal; returns every log.
 * Used by `gatehouse review` to find one operation's events; the watcher uses `syncToHead`.
 */
export async function scanLogs(
  rpc: Rpc,
  filter: { addresses: string[]; topics: string[] },
  from: number,
  to: number,
  range: RangeState,
  extraTopics: (string | null)[] = [],
): Promise<RawLog[]> {
  const out: RawLog[] = [];
  let cursor = from;
  while (cursor <= to) {
    const end = Math.min(to, cursor + range.size - 1);
    try {
      out.push(...(await getLogs(rpc, filter, cursor, end, extraTopics)));
      grow(range);
      cursor = end + 1;
    } catch (e) {
      if (!shrink(range, e)) throw e;
    }
  }
  return out;
}

function grow(range: RangeState): void {
  range.successes++;
  if (range.size < range.max && range.successes >= 8) {
    range.size = Math.min(range.max, range.size * 2);
    range.successes = 0;
  }
}

/** Halve the range after a refusal; false when the error is not a refusal or the range is one block already. */
function shrink(range: RangeState, e: unknown): boolean {
  if (classifyRpcError(e, "eth_getLogs") !== "range" || range.size <= 1) return false;
  range.size = Math.max(1, Math.floor(range.size / 2));
  range.successes = 0;
  return true;
}

export interface SyncResult {
  head: number;
  /** The newest block with enough confirmations. */
  target: number;
  checkpoint: Checkpoint;
  ranges: number;
  events: number;
  reorgs: number;
}

/** Index from the checkpoint up to the confirmed head. */
export async function syncToHead(o: IndexerOptions): Promise<SyncResult> {
  const { rpc, ledger, hooks = {} } = o;
  const stored = ledger.checkpoint();
  // The head and the checkpoint's block in one round trip (one JSON-RPC batch over HTTP): a follower's
  // step pays for as few round trips as it can, since each one is latency before a review is posted.
  const [latest, atCheckpoint] = await Promise.all([header(rpc, "latest"), stored && stored.block >= 0 ? header(rpc, stored.block) : Promise.resolve(undefined)]);
  const head = latest ? latest.number : await blockNumber(rpc);
  const target = head - Math.max(0, o.confirmations - 1);
  let cp = stored;
  if (!cp) {
    const before = o.startBlock - 1;
    const h = before >= 0 ? await header(rpc, before) : null;
    cp = { block: before, hash: h?.hash ?? "" };
    ledger.setCheckpoint(cp);
  }
  const result: SyncResult = { head, target, checkpoint: cp, ranges: 0, events: 0, reorgs: 0 };

  // A reorg below the checkpoint (the chain may also have become shorter than the checkpoint).
  cp = await checkReorg(o, cp, result, cp === stored ? atCheckpoint : undefined);

  let unstable = 0;
  let prefetched: Header | null | undefined = latest;
  while (cp.block < target) {
    const from = cp.block + 1;
    const to = Math.min(target, cp.block + o.range.size);
    // The head header read above is this range's "before" when the range ends at it (a follower's step).
    const before = prefetched && to === prefetched.number ? prefetched : await header(rpc, to);
    prefetched = undefined;
    let logs: RawLog[];
    try {
      logs = await getLogs(rpc, o, from, to);
    } catch (e) {
      if (shrink(o.range, e)) {
        hooks.onRangeRefused?.({ from, to, size: o.range.size, error: e });
        continue;
      }
      throw e;
    }
    // Both read after the logs, so they can share a round trip (a JSON-RPC batch over HTTP).
    const last: number = cp.block;
    const [after, again]: [Header | null, Header | null] = await Promise.all([header(rpc, to), last >= 0 ? header(rpc, last) : Promise.resolve(null)]);
    if (cp.block >= 0 && again?.hash !== cp.hash) {
      cp = await checkReorg(o, cp, result);
      continue;
    }
    if (!before || !after || before.hash !== after.hash) {
      hooks.onUnstable?.({ from, to, reason: "the range's last block changed while it was read" });
      if (++unstable > 20) throw new Error(`the chain keeps changing at block ${to}: giving up for now`);
      continue;
    }
    const events: { event: WatchedEvent; opId?: string }[] = [];
    const blocks = new Map<number, string>();
    let consistent = true;
    for (const log of logs) {
      if (log.removed) continue;
      const event = decodeLog(log);
      if (!event) continue;
      if (!blocks.has(event.block)) blocks.set(event.block, event.blockHash);
      else if (blocks.get(event.block) !== event.blockHash) consistent = false;
      const groups = groupsOf(event, o.timelock);
      events.push({ event, ...(groups[0]!.startsWith("op:") ? { opId: groups[0]!.slice(3) } : {}) });
    }
    // Each block with events must be the canonical block under `after` (a node behind a load balancer may
    // disagree). The headers are read concurrently: one round trip for the range, not one per block.
    if (consistent) {
      const checks = await Promise.all([...blocks].map(async ([number, hash]) => (number === to ? hash === after.hash : (await header(rpc, number))?.hash === hash)));
      consistent = checks.every(Boolean);
    }
    if (!consistent) {
      hooks.onUnstable?.({ from, to, reason: "the logs came from another chain than the headers" });
      if (++unstable > 20) throw new Error(`eth_getLogs and the block headers disagree at ${from}-${to}: giving up for now`);
      continue;
    }
    const dirty = [...new Set(events.flatMap(({ event }) => groupsOf(event, o.timelock)))];
    const next = { block: to, hash: after.hash };
    ledger.commitRange({ events, blocks: [...blocks].map(([block, hash]) => ({ block, hash })), checkpoint: next, dirty });
    grow(o.range);
    hooks.onRange?.({ from, to, logs: events.length, size: o.range.size });
    result.ranges++;
    result.events += events.length;
    cp = next;
    result.checkpoint = cp;
    if (o.keepBlocks !== undefined && result.ranges % 50 === 0) ledger.pruneBlocks(cp.block - o.keepBlocks);
    await hooks.afterCommit?.({ from, to, dirty });
  }
  result.checkpoint = cp;
  return result;
}

/** Compare the checkpoint with the chain; on a mismatch roll back to the newest block both agree on. */
async function checkReorg(o: IndexerOptions, cp: Checkpoint, result: SyncResult, known?: Header | null): Promise<Checkpoint> {
  if (cp.block < 0) return cp;
  const now = known !== undefined ? known : await header(o.rpc, cp.block);
  if (now?.hash === cp.hash) return cp;
  let ancestor: Checkpoint | undefined;
  let below = cp.block - 1;
  while (!ancestor) {
    const candidates = o.ledger.knownBlocks(below, 64);
    if (candidates.length === 0) break;
    for (const c of candidates) {
      const h = await header(o.rpc, c.block);
      if (h?.hash === c.hash) {
        ancestor = c;
        break;
      }
    }
    below = candidates.at(-1)!.block - 1;
  }
  if (!ancestor) {
    // Deeper than anything remembered: start over from the first block.
    const start = o.startBlock - 1;
    const h = start >= 0 ? await header(o.rpc, start) : null;
    ancestor = { block: start, hash: h?.hash ?? "" };
  }
  const groups = o.ledger.rollback(ancestor);
  result.reorgs++;
  // The groups are dirty in the ledger; they are re-decided once the new branch is indexed (a post whose
  // transaction moved to another block is then corrected, not retracted and posted again).
  o.hooks?.onReorg?.({ from: cp.block, ancestor: ancestor.block, depth: cp.block - ancestor.block, groups });
  return ancestor;
}
