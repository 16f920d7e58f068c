import { TypedDataEncoder, concat, getAddress, keccak256, ZeroAddress } from "ethers";

/**
 * The Safe transaction a signer approves, and the three hashes a hardware wallet shows for it
 * (EIP-712 domain hash, message hash, and the safeTxHash that combines them). Pure: a signer can
 * recompute every value here without trusting Gatehouse's chain adapters.
 */
export interface SafeTxData {
  to: string;
  value: string;
  data: string;
  operation: 0 | 1;
  safeTxGas: string;
  baseGas: string;
  gasPrice: string;
  gasToken: string;
  refundReceiver: string;
  nonce: number;
}

export const SAFE_TX_TYPES = {
  SafeTx: [
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "data", type: "bytes" },
    { name: "operation", type: "uint8" },
    { name: "safeTxGas", type: "uint256" },
    { name: "baseGas", type: "uint256" },
    { name: "gasPrice", type: "uint256" },
    { name: "gasToken", type: "address" },
    { name: "refundReceiver", type: "address" },
    { name: "nonce", type: "uint256" },
  ],
};

export interface SafeTxHashes {
  safeTxHash: string;
  domainHash: string;
  messageHash: string;
}

/** A plain call from the Safe, with the defaults protocol-kit uses for Safe >= 1.3 (no refund, no gas price). */
export function safeCall(to: string, data: string, nonce: number): SafeTxData {
  return {
    to: getAddress(to),
    value: "0",
    data,
    operation: 0,
    safeTxGas: "0",
    baseGas: "0",
    gasPrice: "0",
    gasToken: ZeroAddress,
    refundReceiver: ZeroAddress,
    nonce,
  };
}

export function safeTxHashes(chainId: bigint, safe: string, tx: SafeTxData): SafeTxHashes {
  const domain = { chainId, verifyingContract: getAddress(safe) };
  const domainHash = TypedDataEncoder.hashDomain(domain);
  const messageHash = TypedDataEncoder.from(SAFE_TX_TYPES).hash(tx);
  const safeTxHash = keccak256(concat(["0x1901", domainHash, messageHash]));
  return { safeTxHash, domainHash, messageHash };
}
