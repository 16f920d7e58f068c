import { AbiCoder, Interface, getAddress } from "ethers";
import { splitSignatures } from "../safe/signatures.ts";

/**
 * Who signed an executed Safe transaction (pure): the owners behind the `signatures` bytes of
 * execTransaction, read from the transaction input or from SafeL2's SafeMultiSigTransaction event.
 */
export const SAFE_EXEC_ABI = [
  "function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool)",
  "event ExecutionSuccess(bytes32 indexed txHash, uint256 payment)",
  "event SafeMultiSigTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures, bytes additionalInfo)",
  "event ExecutionFromModuleSuccess(address indexed module)",
  "function getOwners() view returns (address[])",
  "function getThreshold() view returns (uint256)",
] as const;

export const safeExecInterface = new Interface(SAFE_EXEC_ABI);

/**
 * Owners of each 65-byte static signature: v=0 contract signature and v=1 approved hash name the owner
 * in r; v>30 is eth_sign over the hash; otherwise an ECDSA signature of the hash itself.
 */
export function safeSignatureOwners(safeTxHash: string, signatures: string): string[] {
  // An unreadable signature is skipped; the Safe itself accepted the transaction.
  return splitSignatures(safeTxHash, signatures, { stopAtDynamic: true }).flatMap((sig) => (sig.owner ? [sig.owner] : []));
}

export interface SafeExecution {
  safe: string;
  safeTxHash: string;
  signers: string[];
  nonce?: number;
  threshold?: number;
  /** The transaction was sent to the Safe itself (execTransaction called directly, not through another contract). */
  direct: boolean;
  /** How many Safe transactions the Safe executed in this transaction (ExecutionSuccess events). */
  executions: number;
  /** The call the Safe made, decoded from execTransaction (the transaction input or SafeL2's event). */
  call?: { to: string; value: string; data: string; operation: number };
  /** Modules that executed as the Safe in the same transaction (ExecutionFromModuleSuccess). */
  modules: string[];
}

interface ReceiptLog {
  address: string;
  topics: string[];
  data: string;
}

/**
 * The Safe transaction `safe` executed in a transaction, from its receipt logs (ExecutionSuccess, and
 * SafeL2's SafeMultiSigTransaction) or, for an L1 Safe called directly, from the transaction input.
 */
export function safeExecutionOf(input: { safe: string; txTo: string | null; txInput: string; logs: ReceiptLog[] }): SafeExecution | undefined {
  const safe = getAddress(input.safe);
  const mine = input.logs.filter((l) => getAddress(l.address) === safe);
  const parsed = mine.map((l) => parse(l));
  const successes = parsed.filter((p) => p?.name === "ExecutionSuccess");
  const modules = parsed.filter((p) => p?.name === "ExecutionFromModuleSuccess").map((p) => getAddress(String(p!.args[0])));
  const success = successes[0];
  const direct = input.txTo !== null && getAddress(input.txTo) === safe;
  if (!success) return modules.length > 0 ? { safe, safeTxHash: "", signers: [], direct, executions: 0, modules } : undefined;
  const safeTxHash = String(success.args[0]).toLowerCase();
  const base = { safe, safeTxHash, direct, executions: successes.length, modules };
  const callOf = (a: readonly unknown[]) => ({ to: getAddress(String(a[0])), value: String(a[1]), data: String(a[2]), operation: Number(a[3]) });
  const l2 = parsed.find((p) => p?.name === "SafeMultiSigTransaction");
  if (l2) {
    const [nonce, , threshold] = AbiCoder.defaultAbiCoder().decode(["uint256", "address", "uint256"], l2.args[10] as string);
    return { ...base, signers: safeSignatureOwners(safeTxHash, l2.args[9] as string), nonce: Number(nonce), threshold: Number(threshold), call: callOf(l2.args) };
  }
  if (direct) {
    try {
      const call = safeExecInterface.decodeFunctionData("execTransaction", input.txInput);
      return { ...base, signers: safeSignatureOwners(safeTxHash, call[9] as string), call: callOf(call) };
    } catch {
      // not a direct execTransaction
    }
  }
  return { ...base, signers: [] };
}

function parse(l: ReceiptLog) {
  try {
    return safeExecInterface.parseLog({ topics: l.topics, data: l.data });
  } catch {
    return null;
  }
}
