import { Signature, getAddress, getBytes, hashMessage, recoverAddress, toBeHex, zeroPadValue } from "ethers";

/**
 * Safe owner signatures (pure): which owner a 65-byte static part names or recovers, by its v byte, as
 * the Safe contract and safe-eth-py's `SafeSignatureType.from_v` read it:
 *   v 0       CONTRACT_SIGNATURE  EIP-1271, owner in r (its dynamic part starts at byte offset s)
 *   v 1       APPROVED_HASH       owner in r; valid when approvedHashes(owner, hash) != 0 or owner executes
 *   v 2       PASSKEY             secp256r1 (not recovered here)
 *   v > 30    ETH_SIGN            ECDSA over personal_sign(safeTxHash), v - 4
 *   otherwise EOA                 ECDSA over the safeTxHash (EIP-712)
 * One implementation serves the pipeline (before executing), the tx-service and the watcher.
 */
export type SignatureType = "CONTRACT_SIGNATURE" | "APPROVED_HASH" | "PASSKEY" | "ETH_SIGN" | "EOA";

export interface StaticSignature {
  type: SignatureType;
  /** Undefined when nothing can be recovered (bad v, r or s) or for passkeys. */
  owner?: string;
  r: bigint;
  s: bigint;
  v: number;
  /** The 65-byte part, 0x-prefixed lower-case hex. */
  hex: string;
}

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function recoverEcdsa(digest: string, r: bigint, s: bigint, v: number): string | undefined {
  if ((v !== 27 && v !== 28) || r === 0n || s === 0n || r >= SECP256K1_N || s >= SECP256K1_N) return undefined;
  try {
    return recoverAddress(digest, Signature.from({ r: toBeHex(r, 32), s: toBeHex(s, 32), v }));
  } catch {
    return undefined;
  }
}

function addressIn(word: bigint): string | undefined {
  return word >> 160n === 0n ? getAddress(zeroPadValue(toBeHex(word), 20)) : undefined;
}

/** Read one 65-byte static signature part over `safeTxHash`. */
export function readSignature(safeTxHash: string, part: string): StaticSignature {
  const hex = (part.startsWith("0x") ? part : "0x" + part).toLowerCase();
  if (hex.length !== 132) throw new Error(`a Safe signature part is 65 bytes, got ${(hex.length - 2) / 2}`);
  const r = BigInt("0x" + hex.slice(2, 66));
  const s = BigInt("0x" + hex.slice(66, 130));
  const v = parseInt(hex.slice(130, 132), 16);
  const base = { r, s, v, hex };
  if (v === 0) return { ...base, type: "CONTRACT_SIGNATURE", owner: addressIn(r) };
  if (v === 1) return { ...base, type: "APPROVED_HASH", owner: addressIn(r) };
  if (v === 2) return { ...base, type: "PASSKEY" };
  if (v > 30) return { ...base, type: "ETH_SIGN", owner: recoverEcdsa(hashMessage(getBytes(safeTxHash)), r, s, v - 4) };
  return { ...base, type: "EOA", owner: recoverEcdsa(safeTxHash, r, s, v) };
}

/**
 * The static parts of a signatures blob, in order. Bytes after the last whole part are ignored, as the
 * real service does; with `stopAtDynamic`, parsing also stops where the first contract signature's
 * dynamic part begins (what the Safe contract reads).
 */
export function splitSignatures(safeTxHash: string, blob: string, opts: { stopAtDynamic?: boolean } = {}): StaticSignature[] {
  const hex = blob.startsWith("0x") ? blob.slice(2) : blob;
  let end = Math.floor(hex.length / 2);
  const out: StaticSignature[] = [];
  for (let i = 0; i + 65 <= end; i += 65) {
    const sig = readSignature(safeTxHash, "0x" + hex.slice(i * 2, (i + 65) * 2));
    out.push(sig);
    if (opts.stopAtDynamic && sig.type === "CONTRACT_SIGNATURE" && sig.s < BigInt(end)) end = Math.max(i + 65, Number(sig.s));
  }
  return out;
}
