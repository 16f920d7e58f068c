import { Interface, getAddress, toQuantity, type InterfaceAbi } from "ethers";
import { SAFE_ABI } from "../safe/kit.ts";

/**
 * The chain reads the tx-service needs, over a bare EIP-1193 provider (Hardhat's in-process provider or
 * an RPC URL wrapped by `httpProvider`): a Safe's owners, threshold, nonce and VERSION() at one block,
 * approvedHashes, the Safe-info fields, and ExecutionSuccess / ExecutionFailure events with the
 * transaction that emitted them. State reads are pinned to a block number and cached for that block, so
 * concurrent requests at the same block share one set of eth_calls.
 */

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
}

export interface SafeCore {
  owners: string[];
  threshold: number;
  nonce: bigint;
  version: string;
}

export interface SafeInfoFacts extends SafeCore {
  masterCopy: string;
  modules: string[];
  fallbackHandler: string;
  guard: string;
  moduleGuard: string;
}

export interface ExecutionLog {
  safeTxHash: string;
  success: boolean;
  payment: bigint;
  transactionHash: string;
  blockNumber: number;
}

export interface Execution extends ExecutionLog {
  executionDate: string;
  executor: string | null;
  gasUsed: number | null;
  ethGasPrice: string | null;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  fee: string | null;
  /** The signatures argument of execTransaction, when the transaction called the Safe directly. */
  signatures: string | null;
}

/** The address has no code: not a Safe (the real service answers 404 for an unknown Safe). */
export class NoContractError extends Error {}
/** The address has code but does not answer like a Safe. */
export class NotASafeError extends Error {}

const SAFE = new Interface([
  ...(SAFE_ABI as unknown as string[]),
  "function getModulesPaginated(address start, uint256 pageSize) view returns (address[] array, address next)",
  "function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool)",
] as InterfaceAbi);
const SUCCESS_TOPIC = SAFE.getEvent("ExecutionSuccess")!.topicHash;
const FAILURE_TOPIC = SAFE.getEvent("ExecutionFailure")!.topicHash;
const SENTINEL = "0x0000000000000000000000000000000000000001";
// Storage slots of Safe >= 1.3 (FallbackManager, GuardManager, ModuleManager), as safe-eth-py reads them.
const FALLBACK_HANDLER_SLOT = "0x6c9a6c4a39284e37ed1cf53d337577d14212a4870fb976a4366c693b939918d5"; // keccak256("fallback_manager.handler.address")
const GUARD_SLOT = "0x4a204f620c8c5ccdca3fd54d003badd85ba500436a431f0cbda4f558c93c34c8"; // keccak256("guard_manager.guard.address")
const MODULE_GUARD_SLOT = "0xb104e0b93118902c651344349b610029d694cfdec91c589c91ebafbcd0289947"; // keccak256("module_manager.module_guard.address")
const LOG_CHUNK = 10_000;

export interface ChainReader {
  chainId(): Promise<bigint>;
  genesisHash(): Promise<string>;
  blockNumber(): Promise<number>;
  /** Owners, threshold, nonce and VERSION() of `safe` at `block`; throws NoContractError / NotASafeError. */
  safeCore(safe: string, block: number): Promise<SafeCore>;
  safeInfo(safe: string, block: number): Promise<SafeInfoFacts>;
  /** The owners among `owners` with approvedHashes(owner, hash) != 0 at `block`. */
  approvedOwners(safe: string, owners: string[], hash: string, block: number): Promise<Set<string>>;
  executionLogs(safe: string, fromBlock: number, toBlock: number): Promise<ExecutionLog[]>;
  executionDetails(log: ExecutionLog): Promise<Execution>;
}

export function chainReader(provider: Eip1193): ChainReader {
  const rpc = (method: string, params: unknown[]) => provider.request({ method, params });
  const call = async (to: string, fn: string, args: unknown[], block: number) => {
    const data = SAFE.encodeFunctionData(fn, args);
    const out = (await rpc("eth_call", [{ to, data }, toQuantity(block)])) as string;
    return SAFE.decodeFunctionResult(fn, out);
  };
  const slotAddress = async (safe: string, slot: string, block: number) => {
    const word = (await rpc("eth_getStorageAt", [safe, slot, toQuantity(block)])) as string;
    return getAddress("0x" + word.slice(-40));
  };

  // One cache generation per block: requests at the same block share the reads (and in-flight promises).
  let cacheBlock = -1;
  let cache = new Map<string, Promise<SafeCore>>();

  async function readCore(safe: string, block: number): Promise<SafeCore> {
    try {
      const [owners, threshold, nonce, version] = await Promise.all([
        call(safe, "getOwners", [], block),
        call(safe, "getThreshold", [], block),
        call(safe, "nonce", [], block),
        call(safe, "VERSION", [], block),
      ]);
      return { owners: (owners[0] as string[]).map((o) => getAddress(o)), threshold: Number(threshold[0]), nonce: nonce[0] as bigint, version: version[0] as string };
    } catch (e) {
      const code = (await rpc("eth_getCode", [safe, toQuantity(block)])) as string;
      if (code === "0x") throw new NoContractError(`no contract at ${safe}`);
      throw new NotASafeError(`${safe} does not answer like a Safe: ${(e as Error).message.split("\n")[0]}`, { cause: e });
    }
  }

  return {
    chainId: async () => BigInt((await rpc("eth_chainId", [])) as string),
    genesisHash: async () => ((await rpc("eth_getBlockByNumber", ["0x0", false])) as { hash: string }).hash,
    blockNumber: async () => Number(BigInt((await rpc("eth_blockNumber", [])) as string)),
    safeCore(safe, block) {
      if (block !== cacheBlock) {
        if (block < cacheBlock) return readCore(safe, block);
        cacheBlock = block;
        cache = new Map();
      }
      let p = cache.get(safe);
      if (!p) {
        p = readCore(safe, block);
        cache.set(safe, p);
        p.catch(() => cache.get(safe) === p && cache.delete(safe));
      }
      return p;
    },
    async safeInfo(safe, block) {
      const core = await this.safeCore(safe, block);
      const [masterCopy, fallbackHandler, guard, moduleGuard, modules] = await Promise.all([
        slotAddress(safe, "0x0", block),
        slotAddress(safe, FALLBACK_HANDLER_SLOT, block),
        slotAddress(safe, GUARD_SLOT, block),
        slotAddress(safe, MODULE_GUARD_SLOT, block),
        call(safe, "getModulesPaginated", [SENTINEL, 100], block).then((r) => (r[0] as string[]).map((m) => getAddress(m))),
      ]);
      return { ...core, masterCopy, fallbackHandler, guard, moduleGuard, modules };
    },
    async approvedOwners(safe, owners, hash, block) {
      const approved = await Promise.all(owners.map(async (o) => ((await call(safe, "approvedHashes", [o, hash], block))[0] as bigint) !== 0n));
      return new Set(owners.filter((_, i) => approved[i]));
    },
    async executionLogs(safe, fromBlock, toBlock) {
      const out: ExecutionLog[] = [];
      for (let start = fromBlock; start <= toBlock; start += LOG_CHUNK) {
        const end = Math.min(toBlock, start + LOG_CHUNK - 1);
        const logs = (await rpc("eth_getLogs", [{ address: safe, fromBlock: toQuantity(start), toBlock: toQuantity(end), topics: [[SUCCESS_TOPIC, FAILURE_TOPIC]] }])) as {
          topics: string[];
          data: string;
          transactionHash: string;
          blockNumber: string;
          removed?: boolean;
        }[];
        for (const log of logs) {
          if (log.removed) continue;
          out.push({
            safeTxHash: log.topics[1]!.toLowerCase(),
            success: log.topics[0] === SUCCESS_TOPIC,
            payment: BigInt(log.data === "0x" ? 0 : log.data.slice(0, 66)),
            transactionHash: log.transactionHash,
            blockNumber: Number(BigInt(log.blockNumber)),
          });
        }
      }
      return out;
    },
    async executionDetails(log) {
      const [tx, receipt, block] = (await Promise.all([
        rpc("eth_getTransactionByHash", [log.transactionHash]),
        rpc("eth_getTransactionReceipt", [log.transactionHash]),
        rpc("eth_getBlockByNumber", [toQuantity(log.blockNumber), false]),
      ])) as [
        { from: string; to: string | null; input: string; gasPrice?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string } | null,
        { gasUsed: string; effectiveGasPrice?: string } | null,
        { timestamp: string } | null,
      ];
      let signatures: string | null = null;
      if (tx?.input && tx.input.startsWith(SAFE.getFunction("execTransaction")!.selector)) {
        try {
          signatures = (SAFE.decodeFunctionData("execTransaction", tx.input)[9] as string).toLowerCase();
        } catch {
          signatures = null;
        }
      }
      const gasUsed = receipt ? Number(BigInt(receipt.gasUsed)) : null;
      const price = receipt?.effectiveGasPrice ?? tx?.gasPrice;
      return {
        ...log,
        executionDate: block ? new Date(Number(BigInt(block.timestamp)) * 1000).toISOString() : new Date().toISOString(),
        executor: tx ? getAddress(tx.from) : null,
        gasUsed,
        ethGasPrice: price ? BigInt(price).toString() : null,
        maxFeePerGas: tx?.maxFeePerGas ? BigInt(tx.maxFeePerGas).toString() : null,
        maxPriorityFeePerGas: tx?.maxPriorityFeePerGas ? BigInt(tx.maxPriorityFeePerGas).toString() : null,
        fee: gasUsed !== null && price ? (BigInt(gasUsed) * BigInt(price)).toString() : null,
        signatures,
      };
    },
  };
}

/** A JSON-RPC URL as an EIP-1193 provider (for `startTxService({ rpcUrl })` outside Hardhat). */
export function httpProvider(url: string): Eip1193 {
  let id = 0;
  return {
    async request({ method, params }) {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: ++id, method, params: params ?? [] }) });
      const body = (await res.json()) as { result?: unknown; error?: { message: string } };
      if (body.error) throw new Error(`${method}: ${body.error.message}`);
      return body.result;
    },
  };
}
