import { getAddress } from "ethers";

/**
 * Reading an opcode trace (`debug_traceTransaction` struct logs, as EDR and geth return them) without a
 * chain: which account's storage every SSTORE wrote, which accounts the transaction touched, and the
 * preimages of the KECCAK256s it computed (how mapping and array slots were derived). Pure.
 *
 * EDR has no prestate tracer, so the write set comes from SSTOREs; before/after values are read from the
 * fork at the pinned block and after the last step. Memory is not traced (too large): the 32-byte words
 * a frame MSTOREd are tracked instead, which is how Solidity lays out mapping keys before hashing them.
 */

export interface StructLog {
  op: string;
  depth: number;
  /** Stack words, top of stack LAST (geth/EDR order). */
  stack?: string[];
}

export type Preimage = { kind: "mapping"; key: bigint; base: bigint } | { kind: "word"; base: bigint };

export interface TraceFacts {
  /** Storage writes in trace order, unique per account+slot (the storage context, so DELEGATECALL writes land on the proxy). */
  writes: { account: string; slot: bigint }[];
  /** Every address the transaction called into or ran code as (checksummed). */
  touched: string[];
  /** keccak256 result → its 64-byte (mapping) or 32-byte (array/string) preimage. */
  preimages: Map<bigint, Preimage>;
}

const CALLS = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]);
const CREATES = new Set(["CREATE", "CREATE2"]);

function word(stack: string[] | undefined, fromTop: number): bigint | undefined {
  if (!stack || stack.length <= fromTop) return undefined;
  return BigInt(stack[stack.length - 1 - fromTop]!);
}

function addr(v: bigint): string {
  return getAddress(`0x${(v & ((1n << 160n) - 1n)).toString(16).padStart(40, "0")}`);
}

interface Frame {
  address: string;
  memory: Map<bigint, bigint>;
}

export function analyzeTrace(logs: StructLog[], to: string): TraceFacts {
  const frames: Frame[] = [{ address: getAddress(to), memory: new Map() }];
  const writes: { account: string; slot: bigint }[] = [];
  const seen = new Set<string>();
  const touched = new Set<string>([getAddress(to)]);
  const preimages = new Map<bigint, Preimage>();
  // Created contracts are known only when the CREATE returns: their writes carry a placeholder until then.
  const placeholders = new Map<string, string>();
  let pendingHash: { pre: Preimage | undefined; depth: number } | undefined;
  let pendingCall: { address: string; depth: number; create?: string } | undefined;
  let createCount = 0;
  const openCreates: { depth: number; placeholder: string }[] = [];

  for (const log of logs) {
    const depth = log.depth;
    // Entering a frame: the step after a call at depth d runs at d+1 (calls to accounts without code do not).
    if (pendingCall) {
      if (depth === pendingCall.depth + 1) frames.push({ address: pendingCall.address, memory: new Map() });
      else if (pendingCall.create) openCreates.pop();
      pendingCall = undefined;
    }
    while (frames.length > depth) frames.pop();
    // Returning from a CREATE: the new address is on top of the creator's stack.
    while (openCreates.length && openCreates.at(-1)!.depth >= depth && depth === openCreates.at(-1)!.depth) {
      const c = openCreates.pop()!;
      const created = word(log.stack, 0);
      if (created !== undefined && created !== 0n) {
        placeholders.set(c.placeholder, addr(created));
        touched.add(addr(created));
      }
    }
    if (pendingHash) {
      if (depth === pendingHash.depth && pendingHash.pre) {
        const h = word(log.stack, 0);
        if (h !== undefined) preimages.set(h, pendingHash.pre);
      }
      pendingHash = undefined;
    }
    const frame = frames[frames.length - 1]!;
    const op = log.op;
    if (op === "MSTORE") {
      const off = word(log.stack, 0);
      const val = word(log.stack, 1);
      if (off !== undefined && val !== undefined) frame.memory.set(off, val);
    } else if (op === "KECCAK256" || op === "SHA3") {
      const off = word(log.stack, 0);
      const size = word(log.stack, 1);
      let pre: Preimage | undefined;
      if (off !== undefined && size === 64n) {
        const key = frame.memory.get(off);
        const base = frame.memory.get(off + 32n);
        if (key !== undefined && base !== undefined) pre = { kind: "mapping", key, base };
      } else if (off !== undefined && size === 32n) {
        const base = frame.memory.get(off);
        if (base !== undefined) pre = { kind: "word", base };
      }
      pendingHash = { pre, depth };
    } else if (op === "SSTORE") {
      const slot = word(log.stack, 0);
      if (slot !== undefined) {
        const k = `${frame.address}:${slot}`;
        if (!seen.has(k)) {
          seen.add(k);
          writes.push({ account: frame.address, slot });
        }
      }
    } else if (CALLS.has(op)) {
      const target = word(log.stack, 1);
      if (target !== undefined) {
        const t = addr(target);
        touched.add(t);
        pendingCall = { address: op === "DELEGATECALL" || op === "CALLCODE" ? frame.address : t, depth };
      }
    } else if (CREATES.has(op)) {
      const placeholder = `create:${createCount++}`;
      openCreates.push({ depth, placeholder });
      pendingCall = { address: placeholder, depth, create: placeholder };
    }
  }
  return {
    writes: writes
      .map((w) => ({ account: placeholders.get(w.account) ?? w.account, slot: w.slot }))
      .filter((w) => !w.account.startsWith("create:")),
    touched: [...touched].filter((a) => !a.startsWith("create:")),
    preimages,
  };
}
