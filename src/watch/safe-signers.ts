import { AbiCoder, Interface, getAddress, getBytes, hashMessage, hexlify, recoverAddress, toBigInt } from "ethers";

/**
 * Who signed an executed Safe transaction (pure): the owners behind the `signatures` bytes of
 * execTransaction, read from the transaction input or from SafeL2's SafeMultiSigTransaction event.
 */
export const SAFE_EXEC_ABI = [
  "function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool)",
  "event ExecutionSuccess(bytes32 indexed txHash, uint256 payment)",
  "event SafeMultiSigTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures, bytes additionalInfo)",
] as const;

export const safeExecInterface = new Interface(SAFE_EXEC_ABI);

/**
 * Owners of each 65-byte static signature: v=0 contract signature and v=1 approved hash name the owner
 * in r; v>30 is eth_sign over the hash; otherwise an ECDSA signature of the hash itself.
 */
export function safeSignatureOwners(safeTxHash: string, signatures: string): string[] {
  const bytes = getBytes(signatures);
  const owners: string[] = [];
  let end = bytes.length;
  for (let i = 0; i + 65 <= end; i += 65) {
    const r = hexlify(bytes.slice(i, i + 32));
    const s = hexlify(bytes.slice(i + 32, i + 64));
    const v = bytes[i + 64]!;
    try {
      if (v === 0 || v === 1) {
        owners.push(getAddress("0x" + r.slice(26)));
        // A contract signature's dynamic part starts at offset s: no static signature lies beyond it.
        if (v === 0) end = Math.min(end, Number(toBigInt(s)));
      } else if (v > 30) {
        owners.push(recoverAddress(hashMessage(getBytes(safeTxHash)), { r, s, v: v - 4 }));
      } else {
        owners.push(recoverAddress(safeTxHash, { r, s, v }));
      }
    } catch {
      // An unreadable signature is skipped; the Safe itself accepted the transaction.
    }
  }
  return owners;
}

export interface SafeExecution {
  safe: string;
  safeTxHash: string;
  signers: string[];
  nonce?: number;
  threshold?: number;
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
  const success = mine.map((l) => parse(l)).find((p) => p?.name === "ExecutionSuccess");
  if (!success) return undefined;
  const safeTxHash = String(success.args[0]).toLowerCase();
  const l2 = mine.map((l) => parse(l)).find((p) => p?.name === "SafeMultiSigTransaction");
  if (l2) {
    const [nonce, , threshold] = AbiCoder.defaultAbiCoder().decode(["uint256", "address", "uint256"], l2.args[10] as string);
    return { safe, safeTxHash, signers: safeSignatureOwners(safeTxHash, l2.args[9] as string), nonce: Number(nonce), threshold: Number(threshold) };
  }
  if (input.txTo && getAddress(input.txTo) === safe) {
    try {
      const call = safeExecInterface.decodeFunctionData("execTransaction", input.txInput);
      return { safe, safeTxHash, signers: safeSignatureOwners(safeTxHash, call[9] as string) };
    } catch {
      // not a direct execTransaction
    }
  }
  return { safe, safeTxHash, signers: [] };
}

function parse(l: ReceiptLog) {
  try {
    return safeExecInterface.parseLog({ topics: l.topics, data: l.data });
  } catch {
    return null;
  }
}
