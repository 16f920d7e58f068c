import { TypedDataEncoder, concat, getAddress, keccak256, toBeHex, zeroPadValue } from "ethers";
import { SAFE_TX_TYPES, safeTxHashes, type SafeTxData } from "../safe/hash.ts";
import { splitSignatures } from "../safe/signatures.ts";

/**
 * The functional core of `gatehouse tx-service`: what the service believes about a proposal or a
 * confirmation, computed only from the request and from chain facts the shell read beforehand. No I/O.
 *
 * Matched against the real Safe Transaction Service (safe-global/safe-transaction-service):
 *  - safe_transaction_service/history/serializers.py `SafeMultisigTransactionSerializer.validate` (propose)
 *    and `SafeMultisigConfirmationSerializer.validate_signature` (confirm): the order of the checks and
 *    the words of each error;
 *  - safe-eth-py safe_eth/safe/safe_signature.py `SafeSignature.parse_signature` / `SafeSignatureType.from_v`
 *    (v = 0 contract, 1 approved hash, 2 secp256r1, > 30 eth_sign, otherwise EOA; 65-byte static parts,
 *    trailing bytes shorter than 65 ignored) and `SafeSignatureApprovedHash.is_valid` (approvedHashes on chain).
 */

/** The kinds of signature the service stores (it refuses contract and passkey signatures). */
export type SignatureType = "APPROVED_HASH" | "EOA" | "ETH_SIGN";

/** One owner's signature as the service stores it: the 65-byte static part, its owner and its type. */
export interface ParsedSignature {
  owner: string;
  type: SignatureType;
  /** 0x + 130 hex chars (r, s, v). */
  signature: string;
}

export type ParseResult = { ok: true; signatures: ParsedSignature[] } | { ok: false; reason: string };

/** The Safe transaction fields of a proposal, already validated field by field. */
export interface ProposedTx extends SafeTxData {
  safe: string;
}

export interface ProposalInput {
  tx: ProposedTx;
  contractTransactionHash: string;
  sender: string;
  signature: string;
}

/** What the shell read from the chain (at one block) before deciding. */
export interface SafeFacts {
  chainId: bigint;
  /** VERSION() of the Safe singleton, e.g. "1.5.0" or "1.3.0+L2". */
  version: string;
  owners: string[];
  threshold: number;
  nonce: bigint;
}

export type Decision<T> = { ok: true; value: T } | { ok: false; reason: string };


/** "1.3.0+L2" -> [1, 3, 0]. */
export function parseVersion(version: string): [number, number, number] {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (!m) throw new Error(`unrecognised Safe version '${version}'`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [a, b] = parseVersion(version);
  return a > major || (a === major && b >= minor);
}

/**
 * The safeTxHash the Safe at `safe` (of `version`, on `chainId`) computes for `tx`: EIP-712 with the
 * domain `{chainId, verifyingContract}` for Safe >= 1.3.0 (src/safe/hash.ts), `{verifyingContract}` before,
 * and the field `dataGas` instead of `baseGas` before 1.0.0 (as safe-eth-py's `SafeTx` does).
 */
export function computeSafeTxHash(chainId: bigint, safe: string, version: string, tx: SafeTxData): string {
  if (atLeast(version, 1, 3)) return safeTxHashes(chainId, safe, tx).safeTxHash;
  const domainHash = TypedDataEncoder.hashDomain({ verifyingContract: getAddress(safe) });
  if (atLeast(version, 1, 0)) {
    return keccak256(concat(["0x1901", domainHash, TypedDataEncoder.from(SAFE_TX_TYPES).hash(tx)]));
  }
  const legacyTypes = { SafeTx: SAFE_TX_TYPES.SafeTx.map((f) => (f.name === "baseGas" ? { ...f, name: "dataGas" } : f)) };
  const { baseGas, ...rest } = tx;
  return keccak256(concat(["0x1901", domainHash, TypedDataEncoder.from(legacyTypes).hash({ ...rest, dataGas: baseGas })]));
}

/**
 * The most signature bytes a Safe with `ownerCount` owners can need: one 65-byte static part per owner,
 * plus trailing bytes shorter than a part (ignored, as the real service does). Contract signatures, the
 * only kind with a dynamic part, are refused, so no dynamic part is ever allowed for.
 */
export function maxSignatureBytes(ownerCount: number): number {
  return ownerCount * 65 + 64;
}

/**
 * Refuse a signature blob with more static parts than the Safe has owners, from its length alone: each
 * owner signs at most once, so a longer blob holds a duplicate or a non-owner and would be refused anyway.
 * Checked before any ECDSA recovery, so the CPU an unauthenticated request can cost is bounded by the
 * owner count (a 1 MiB blob of 8,061 parts used to take 10 s of recovery).
 */
export function signatureBudget(signatureHex: string, ownerCount: number): string | undefined {
  const size = Math.floor((signatureHex.length - 2) / 2);
  if (size <= maxSignatureBytes(ownerCount)) return undefined;
  return `Signature has ${Math.floor(size / 65)} parts (${size} bytes); the Safe has ${ownerCount} owner(s), so at most ${ownerCount} parts (${maxSignatureBytes(ownerCount)} bytes) can be valid`;
}

/**
 * Split a Safe signature blob into owner signatures (src/safe/signatures.ts reads each part by its v byte):
 *  v 27/28 EOA (EIP-712 over the safeTxHash), v 31/32 ETH_SIGN (personal_sign of the safeTxHash),
 *  v 1 APPROVED_HASH (owner in r; valid only with approvedHashes on chain, checked by `decideSignatures`).
 * v 0 (EIP-1271 contract signatures) and v 2 (secp256r1 passkeys) are refused with a reason: this service
 * does not run EIP-1271/P-256 verification. A blob longer than `ownerCount` parts is refused before any
 * recovery (`signatureBudget`). Pure: nothing here reads the chain.
 */
export function parseSignatures(safeTxHash: string, signatureHex: string, ownerCount: number): ParseResult {
  const size = (signatureHex.length - 2) / 2;
  if (size < 65) return { ok: false, reason: `Signature=${signatureHex} is shorter than 65 bytes` };
  const overBudget = signatureBudget(signatureHex, ownerCount);
  if (overBudget) return { ok: false, reason: overBudget };
  const signatures: ParsedSignature[] = [];
  // Everything after the last whole 65-byte part is trailing data (ignored, as the real service does);
  // contract signatures, whose dynamic part would follow, are refused below.
  for (const part of splitSignatures(safeTxHash, signatureHex)) {
    const sig = part.hex;
    if (part.type === "CONTRACT_SIGNATURE") {
      return { ok: false, reason: `Signature=${sig} for owner=${part.owner ?? getAddress(zeroPadValue(toBeHex(part.r & ((1n << 160n) - 1n)), 20))} is a CONTRACT_SIGNATURE (EIP-1271), which this service does not verify` };
    }
    if (part.type === "PASSKEY") return { ok: false, reason: `Signature=${sig} is a SECP256R1 (passkey) signature, which this service does not verify` };
    if (part.type === "APPROVED_HASH") {
      if (!part.owner) return { ok: false, reason: `Signature=${sig} is an APPROVED_HASH signature whose r is not an address` };
      signatures.push({ owner: part.owner, type: "APPROVED_HASH", signature: sig });
      continue;
    }
    const ecdsaV = part.type === "ETH_SIGN" ? part.v - 4 : part.v;
    if (ecdsaV !== 27 && ecdsaV !== 28) return { ok: false, reason: `Signature=${sig} has v=${part.v}, expected 27/28 (EIP-712), 31/32 (eth_sign) or 1 (approved hash)` };
    if (!part.owner) return { ok: false, reason: `Signature=${sig} is not valid: no signer can be recovered from it` };
    signatures.push({ owner: part.owner, type: part.type, signature: sig });
  }
  return { ok: true, signatures };
}

/** Owners whose APPROVED_HASH signatures need an `approvedHashes(owner, hash)` read before deciding. */
export function approvalsToCheck(signatures: ParsedSignature[]): string[] {
  return [...new Set(signatures.filter((s) => s.type === "APPROVED_HASH").map((s) => s.owner))];
}

/**
 * Every signature must come from a current owner, be valid, and appear once. For approved hashes, valid
 * means the owner called approveHash(safeTxHash) on chain (`approvedOwners`). Messages follow the real
 * service (serializers.py): "Signer=… is not an owner…", "Signature=… for owner=… is not valid",
 * "Signature for owner=… is duplicated". For a proposal, a signature may also come from one of the Safe's
 * `delegates` (SafeMultisigTransactionSerializer.validate): then it must be the only signature.
 */
export function decideSignatures(signatures: ParsedSignature[], owners: string[], approvedOwners: Set<string>, forPropose: boolean, delegates: Set<string> = new Set()): Decision<ParsedSignature[]> {
  const seen = new Set<string>();
  const allowed = (a: string) => owners.includes(a) || (forPropose && delegates.has(a));
  for (const sig of signatures) {
    if (sig.type === "APPROVED_HASH" && !approvedOwners.has(sig.owner)) {
      return { ok: false, reason: `Signature=${sig.signature} for owner=${sig.owner} is not valid: the owner has not approved the hash on chain (approvedHashes is 0)` };
    }
    // An address that is both owner and delegate is treated as an owner.
    if (forPropose && delegates.has(sig.owner) && !owners.includes(sig.owner) && signatures.length > 1) {
      return { ok: false, reason: "Just one signature is expected if using delegates" };
    }
    if (!allowed(sig.owner)) {
      return {
        ok: false,
        reason: forPropose
          ? `Signer=${sig.owner} is not an owner or delegate. Current owners=[${owners.join(", ")}]. Delegates=[${[...delegates].join(", ")}]`
          : `Signer=${sig.owner} is not an owner. Current owners=[${owners.join(", ")}]`,
      };
    }
    if (seen.has(sig.owner)) return { ok: false, reason: `Signature for owner=${sig.owner} is duplicated` };
    seen.add(sig.owner);
  }
  return { ok: true, value: signatures };
}

/** Phase 1 of a proposal, before any approvedHashes read: the recomputed safeTxHash and the signatures parsed against it. */
export interface ProposalCheck {
  safeTxHash: string;
  parsed: ParseResult;
}

/**
 * Recompute the safeTxHash from the fields and the Safe (chain id, address, version); parse the signatures
 * against it only when the hash matches the one sent and the sender is an owner. A request that fails
 * those cheap checks is refused by `decideProposal` before, and without, any signature recovery.
 */
export function checkProposal(input: ProposalInput, facts: SafeFacts, delegates: Set<string> = new Set()): ProposalCheck {
  const safeTxHash = computeSafeTxHash(facts.chainId, input.tx.safe, facts.version, input.tx);
  if (safeTxHash.toLowerCase() !== input.contractTransactionHash.toLowerCase()) return { safeTxHash, parsed: { ok: false, reason: "not parsed: the safeTxHash does not match" } };
  if (!facts.owners.includes(input.sender) && !delegates.has(input.sender)) return { safeTxHash, parsed: { ok: false, reason: "not parsed: the sender is not an owner or delegate" } };
  return { safeTxHash, parsed: parseSignatures(safeTxHash, input.signature, facts.owners.length) };
}

/**
 * The propose checks of SafeMultisigTransactionSerializer.validate, in its order: the recomputed safeTxHash
 * must equal contractTransactionHash; the nonce must not be executed (here: already executed in the store,
 * or below the Safe's on-chain nonce); the sender must be an owner or one of the Safe's `delegates` (the
 * delegations of its current owners, `activeDelegations`); every signature must be valid and from an owner
 * or delegate, once (a delegate's alone); and the sender must be one of the signers.
 * Only owners' signatures become confirmations: a delegate's signature proves who proposed, it never
 * approves (the real service's save() stores confirmations only for `safe_owners`).
 */
export function decideProposal(
  input: ProposalInput,
  facts: SafeFacts,
  check: ProposalCheck,
  approvedOwners: Set<string>,
  executedWithSameNonce: { safeTxHash: string; transactionHash: string | null } | undefined,
  delegates: Set<string> = new Set(),
): Decision<{ safeTxHash: string; confirmations: ParsedSignature[]; proposedByDelegate: boolean }> {
  const { tx } = input;
  const { safeTxHash } = check;
  if (safeTxHash.toLowerCase() !== input.contractTransactionHash.toLowerCase()) {
    return { ok: false, reason: `Contract-transaction-hash=${safeTxHash} does not match provided contract-tx-hash=${input.contractTransactionHash.toLowerCase()}` };
  }
  if (executedWithSameNonce) {
    if (executedWithSameNonce.safeTxHash === safeTxHash) {
      return { ok: false, reason: `Tx with safe-tx-hash=${safeTxHash} for safe=${tx.safe} was already executed in tx-hash=${executedWithSameNonce.transactionHash}` };
    }
    return { ok: false, reason: `Tx with nonce=${tx.nonce} for safe=${tx.safe} already executed in tx-hash=${executedWithSameNonce.transactionHash}` };
  }
  if (BigInt(tx.nonce) < facts.nonce) {
    return { ok: false, reason: `Tx with nonce=${tx.nonce} for safe=${tx.safe} already executed: the Safe's on-chain nonce is ${facts.nonce}` };
  }
  if (!facts.owners.includes(input.sender) && !delegates.has(input.sender)) {
    return { ok: false, reason: `Sender=${input.sender} is not an owner or delegate. Current owners=[${facts.owners.join(", ")}]. Delegates=[${[...delegates].join(", ")}]` };
  }
  if (!check.parsed.ok) return check.parsed;
  const signatures = check.parsed.signatures;
  const decided = decideSignatures(signatures, facts.owners, approvedOwners, true, delegates);
  if (!decided.ok) return decided;
  if (!signatures.some((s) => s.owner === input.sender)) {
    return { ok: false, reason: `Signature does not match sender=${input.sender}. Calculated owners=[${signatures.map((s) => s.owner).join(", ")}]` };
  }
  return {
    ok: true,
    value: { safeTxHash, confirmations: decided.value.filter((sig) => facts.owners.includes(sig.owner)), proposedByDelegate: !facts.owners.includes(input.sender) },
  };
}
