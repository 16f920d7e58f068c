import { Interface, getAddress, id } from "ethers";
import type { TargetLookup } from "../build/target.ts";
import { bytecodeHash } from "../plan/bytecode.ts";
import { emptyFacts, type BuildFact, type ChainFacts, type FactsNeeded, type TxFacts } from "./decide.ts";
import { header } from "./indexer.ts";
import { classifyRpcError, type Rpc } from "./rpc.ts";
import { safeExecutionOf } from "./safe-signers.ts";

/**
 * Reads the chain facts the core decides with (imperative shell), and builds the policy's targets at the
 * records' commits. Facts that cannot change for a given block or transaction hash are cached; the cache
 * is dropped on a reorg.
 */
export const ERC1967_IMPLEMENTATION_SLOT = "0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc";

export const ERC1967_ADMIN_SLOT = "0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103";

const safeReads = new Interface(["function getOwners() view returns (address[])", "function getThreshold() view returns (uint256)", "function isOperation(bytes32 id) view returns (bool)", "function isOperationDone(bytes32 id) view returns (bool)"]);

/** The policy's target built at a commit of the protected branch (see src/build/at-commit.ts), or why not. */
export type BuildTarget = (commit: string, contract: string) => Promise<TargetLookup>;

export interface FactsReader {
  gather(need: FactsNeeded): Promise<ChainFacts>;
  clear(): void;
}

/** Run at most `n` tasks at once (a failed task rejects its own promise; the others go on). */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= n) return;
    const start = queue.shift();
    if (start) start();
  };
  return (task) =>
    new Promise((resolve, reject) => {
      queue.push(() => {
        active++;
        task()
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      });
      next();
    });
}

const UPGRADED_TOPIC = id("Upgraded(address)");
/** Blocks per eth_getLogs request when walking a proxy's Upgraded history back. */
const UPGRADED_WINDOW = 5_000;

const hexBlock = (n: number) => "0x" + Math.max(0, n).toString(16);

export function factsReader(input: {
  rpc: Rpc;
  safe: string;
  timelock?: string;
  /** Builds the policy's target at a protected commit; without it no implementation is proven. */
  buildTarget?: BuildTarget;
  /** Most fact reads in flight at once (default 8): a real RPC answers in tens of ms, one after another is slow. */
  concurrency?: number;
}): FactsReader {
  const { rpc } = input;
  let timestamps = new Map<string, number>();
  let txs = new Map<string, TxFacts>();
  let impls = new Map<string, string>();
  let admins = new Map<string, string>();
  let owners = new Map<number, { owners: string[]; threshold: number }>();
  let histories = new Map<string, { current: string; previous: string } | null>();

  /**
   * The proxy's last two implementations as of `block`, from its Upgraded events, walking back in windows
   * (public RPCs refuse wide log ranges) until two are found or the chain's start; null: fewer than two.
   */
  async function upgradeHistory(proxy: string, block: number): Promise<{ current: string; previous: string } | null> {
    const seen: string[] = [];
    for (let to = block; to >= 0 && seen.length < 2; to -= UPGRADED_WINDOW) {
      const logs = await rpc.request<{ topics: string[] }[]>("eth_getLogs", [{ address: proxy, topics: [UPGRADED_TOPIC], fromBlock: hexBlock(to - UPGRADED_WINDOW + 1), toBlock: hexBlock(to) }]);
      for (let i = logs.length - 1; i >= 0 && seen.length < 2; i--) seen.push(getAddress("0x" + logs[i]!.topics[1]!.slice(26)));
    }
    return seen.length === 2 ? { current: seen[0]!, previous: seen[1]! } : null;
  }
  // A build depends on the commit only, never on the chain: kept across reorgs.
  const builds = new Map<string, Promise<BuildFact>>();

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

  /**
   * State at a past block; a node that pruned it (not an archive node) answers for the head instead,
   * which is what the state is unless an alert-raising event changed it since.
   */
  async function historical<T>(method: string, params: (tag: string) => unknown[], block: number): Promise<T> {
    try {
      return await rpc.request<T>(method, params(hexBlock(block)));
    } catch (e) {
      if (classifyRpcError(e, method) !== "fatal") throw e;
      return rpc.request<T>(method, params("latest"));
    }
  }

  function build(commit: string, contract: string): Promise<BuildFact> {
    const key = `${commit}:${contract}`;
    let p = builds.get(key);
    if (!p) {
      p = (async (): Promise<BuildFact> => {
        if (!input.buildTarget) return { ok: false, reason: "this watcher was started without a build of the protected branch" };
        try {
          const t = await input.buildTarget(commit, contract);
          if (!t.ok) return { ok: false, reason: t.reason };
          return {
            ok: true,
            bytecodeHash: bytecodeHash(t.artifact.deployedBytecode, t.artifact.immutableReferences),
            ...(t.artifact.immutableReferences ? { immutableReferences: t.artifact.immutableReferences } : {}),
            ...(t.artifact.immutableNames ? { immutableNames: t.artifact.immutableNames } : {}),
            ...(t.artifact.abi ? { abi: t.artifact.abi } : {}),
          };
        } catch (e) {
          return { ok: false, reason: (e as Error).message };
        }
      })();
      builds.set(key, p);
    }
    return p;
  }

  return {
    clear() {
      timestamps = new Map();
      txs = new Map();
      impls = new Map();
      admins = new Map();
      owners = new Map();
      histories = new Map();
    },
    async gather(need) {
      // Every read below is independent: they run concurrently, at most `concurrency` requests in flight,
      // each through the same (retrying) rpc. The results are written per key, so order does not matter.
      const limit = limiter(input.concurrency ?? 8);
      const latestP = limit(() => header(rpc, "latest"));
      const facts = emptyFacts(0);
      // Builds run beside the chain reads (a first build takes seconds; later ones come from the cache).
      const built = Promise.all((need.builds ?? []).map(async (b) => [`${b.commit}:${b.contract}`, await build(b.commit, b.contract)] as const));
      const blocks = need.blocks.map((b) =>
        limit(async () => {
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
        }),
      );
      const txReads = [...new Set(need.txs)].map((hash) =>
        limit(async () => {
          const t = await tx(hash);
          if (t) facts.txs[hash] = t;
        }),
      );
      const codeReads = [...new Set(need.code.map((c) => c.address))].map((address) =>
        limit(async () => {
          const code = await rpc.request<string>("eth_getCode", [address, "latest"]);
          facts.code[address] = code === "0x" ? null : code;
        }),
      );
      const implReads = need.implementations.map((i) =>
        limit(async () => {
          const key = `${i.proxy}@${i.block}`;
          let impl = impls.get(key);
          if (impl === undefined) {
            try {
              const word = await rpc.request<string>("eth_getStorageAt", [i.proxy, ERC1967_IMPLEMENTATION_SLOT, hexBlock(i.block)]);
              impl = getAddress("0x" + word.slice(-40));
              impls.set(key, impl);
            } catch (e) {
              // Historical state may be pruned on a non-archive node: the record's old implementation is shown instead.
              if (classifyRpcError(e, "eth_getStorageAt") !== "fatal") throw e;
            }
          }
          if (impl !== undefined) facts.implementations[key] = impl;
        }),
      );
      const adminReads = (need.admins ?? []).map((a) =>
        limit(async () => {
          const key = `${a.proxy}@${a.block}`;
          let admin = admins.get(key);
          if (admin === undefined) {
            const word = await historical<string>("eth_getStorageAt", (tag) => [a.proxy, ERC1967_ADMIN_SLOT, tag], a.block);
            admin = getAddress("0x" + word.slice(-40));
            admins.set(key, admin);
          }
          facts.admins[key] = admin;
        }),
      );
      const ownerReads = [...new Set((need.safeOwners ?? []).map((o) => o.block))].map((block) =>
        limit(async () => {
          let o = owners.get(block);
          if (o === undefined) {
            // The owners as the block began: a change in the same block is an alert of its own.
            const call = (fn: "getOwners" | "getThreshold") => historical<string>("eth_call", (tag) => [{ to: input.safe, data: safeReads.encodeFunctionData(fn) }, tag], block - 1);
            try {
              const [list, threshold] = await Promise.all([call("getOwners"), call("getThreshold")]);
              o = { owners: (safeReads.decodeFunctionResult("getOwners", list)[0] as string[]).map((x) => getAddress(x)), threshold: Number(safeReads.decodeFunctionResult("getThreshold", threshold)[0]) };
              owners.set(block, o);
            } catch (e) {
              // Not a Safe (reverts, or returns nothing): the check fails and says so.
              if (classifyRpcError(e, "eth_call") !== "fatal" && !(e instanceof Error && /could not decode|BAD_DATA/i.test(e.message))) throw e;
            }
          }
          if (o) facts.safeOwners[String(block)] = o;
        }),
      );
      const operationReads = (input.timelock ? (need.operations ?? []) : []).map((p) =>
        limit(async () => {
          try {
            const r = await historical<string>("eth_call", (tag) => [{ to: input.timelock, data: safeReads.encodeFunctionData("isOperation", [p.id]) }, tag], p.block);
            facts.operations[`${p.id}@${p.block}`] = Boolean(safeReads.decodeFunctionResult("isOperation", r)[0]);
          } catch (e) {
            if (classifyRpcError(e, "eth_call") !== "fatal") throw e;
          }
        }),
      );
      const doneReads = (input.timelock ? (need.operationsDone ?? []) : []).map((p) =>
        limit(async () => {
          try {
            const r = await historical<string>("eth_call", (tag) => [{ to: input.timelock, data: safeReads.encodeFunctionData("isOperationDone", [p.id]) }, tag], p.block);
            (facts.operationsDone ??= {})[`${p.id}@${p.block}`] = Boolean(safeReads.decodeFunctionResult("isOperationDone", r)[0]);
          } catch (e) {
            if (classifyRpcError(e, "eth_call") !== "fatal") throw e;
          }
        }),
      );
      const historyReads = (need.upgradeHistory ?? []).map((h) =>
        limit(async () => {
          const key = `${h.proxy}@${h.block}`;
          let found = histories.get(key);
          if (found === undefined) {
            found = await upgradeHistory(h.proxy, h.block);
            histories.set(key, found);
          }
          (facts.upgradeHistory ??= {})[key] = found;
        }),
      );
      // latestP is in the same Promise.all so that its failure is never an unhandled rejection.
      const [latest] = await Promise.all([latestP, ...blocks, ...txReads, ...codeReads, ...implReads, ...adminReads, ...ownerReads, ...operationReads, ...doneReads, ...historyReads]);
      facts.now = (latest as Awaited<typeof latestP>)?.timestamp ?? 0;
      for (const [key, b] of await built) facts.builds[key] = b;
      return facts;
    },
  };
}
