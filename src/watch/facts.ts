import { getAddress } from "ethers";
import { bytecodeHash, type ImmutableReferences } from "../plan/bytecode.ts";
import type { ChainFacts, FactsNeeded, TxFacts } from "./decide.ts";
import { header } from "./indexer.ts";
import { classifyRpcError, type Rpc } from "./rpc.ts";
import { safeExecutionOf } from "./safe-signers.ts";

/**
 * Reads the chain facts the core decides with (imperative shell). Facts that cannot change for a given
 * block or transaction hash are cached; the cache is dropped on a reorg.
 */
export const ERC1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

export interface FactsReader {
  gather(need: FactsNeeded): Promise<ChainFacts>;
  clear(): void;
}

export function factsReader(input: {
  rpc: Rpc;
  safe: string;
  /** Immutable references of a compiled contract (for bytecode hashes comparable with the record's). */
  immutableReferences?: (contract: string) => Promise<ImmutableReferences | undefined>;
}): FactsReader {
  const { rpc } = input;
  let timestamps = new Map<string, number>();
  let txs = new Map<string, TxFacts>();
  let impls = new Map<string, string>();
  const refs = new Map<string, Promise<ImmutableReferences | undefined>>();
  const refsOf = (contract: string) => {
    if (!refs.has(contract)) refs.set(contract, (input.immutableReferences?.(contract) ?? Promise.resolve(undefined)).catch(() => undefined));
    return refs.get(contract)!;
  };

  async function tx(hash: string): Promise<TxFacts | undefined> {
    const cached = txs.get(hash);
    if (cached) return cached;
    const [t, receipt] = await Promise.all([
      rpc.request<{ from: string; to: string | null; input: string } | null>("eth_getTransactionByHash", [hash]),
      rpc.request<{ logs: { address: string; topics: string[]; data: string }[] } | null>("eth_getTransactionReceipt", [hash]),
    ]);
    if (!t || !receipt) return undefined;
    const safeExecution = safeExecutionOf({ safe: input.safe, txTo: t.to, txInput: t.input, logs: receipt.logs });
    const facts: TxFacts = { from: getAddress(t.from), to: t.to ? getAddress(t.to) : null, ...(safeExecution ? { safeExecution } : {}) };
    txs.set(hash, facts);
    return facts;
  }

  return {
    clear() {
      timestamps = new Map();
      txs = new Map();
      impls = new Map();
    },
    async gather(need) {
      const latest = await header(rpc, "latest");
      const facts: ChainFacts = { now: latest?.timestamp ?? 0, blockTimestamps: {}, txs: {}, codeHashes: {}, implementations: {} };
      for (const b of need.blocks) {
        let ts = timestamps.get(b.hash);
        if (ts === undefined) {
          const h = await header(rpc, b.number);
          // Only the block the event came from: if the chain moved, the next reorg check re-decides.
          if (h && h.hash === b.hash) {
            ts = h.timestamp;
            timestamps.set(b.hash, ts);
          }
        }
        if (ts !== undefined) facts.blockTimestamps[b.hash] = ts;
      }
      for (const hash of new Set(need.txs)) {
        const t = await tx(hash);
        if (t) facts.txs[hash] = t;
      }
      for (const c of need.code) {
        if (c.address in facts.codeHashes && !c.contract) continue;
        const code = await rpc.request<string>("eth_getCode", [c.address, "latest"]);
        facts.codeHashes[c.address] = code === "0x" ? null : bytecodeHash(code, c.contract ? await refsOf(c.contract) : undefined);
      }
      for (const i of need.implementations) {
        const key = `${i.proxy}@${i.block}`;
        let impl = impls.get(key);
        if (impl === undefined) {
          try {
            const word = await rpc.request<string>("eth_getStorageAt", [i.proxy, ERC1967_IMPLEMENTATION_SLOT, "0x" + i.block.toString(16)]);
            impl = getAddress("0x" + word.slice(-40));
            impls.set(key, impl);
          } catch (e) {
            // Historical state may be pruned on a non-archive node: the record's old implementation is shown instead.
            if (classifyRpcError(e, "eth_getStorageAt") !== "fatal") throw e;
          }
        }
        if (impl !== undefined) facts.implementations[key] = impl;
      }
      return facts;
    },
  };
}
