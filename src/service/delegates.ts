import { TypedDataEncoder } from "ethers";
import { splitSignatures } from "../safe/signatures.ts";
import type { Decision } from "./verify.ts";

/**
 * Safe delegates, the functional core (no I/O): a delegate is an address an owner (the delegator) lets
 * propose transactions to the service without being an owner. Matched against the real Safe Transaction
 * Service (safe-global/safe-transaction-service):
 *  - history/helpers.py `TemporarySignatureHelper.calculate_totp` (T0 = 0, Tx = 3600, `previous` = one
 *    interval back) and `DelegateSignatureHelperV2.calculate_hash_and_preimage` (EIP-712 domain
 *    {name: "Safe Transaction Service", version: "1.0", chainId?}, type Delegate(address delegateAddress,
 *    uint256 totp));
 *  - history/serializers.py `DelegateSerializerMixin.validate_delegator_signature`: the current and the
 *    previous totp, each with and without the chain id, in that order; one signature only; the words of
 *    each error.
 * api-kit 5.0.3 `signDelegate` signs {delegateAddress, totp = floor(now / 3600)} with the chain id.
 */

export const TOTP_SECONDS = 3600;

/** calculate_totp: the hour counter at `nowSeconds`, or the one before it. */
export function totp(nowSeconds: number, previous = false): number {
  return Math.floor((nowSeconds - (previous ? TOTP_SECONDS : 0)) / TOTP_SECONDS);
}

const DELEGATE_TYPES = { Delegate: [{ name: "delegateAddress", type: "address" }, { name: "totp", type: "uint256" }] };

/** The EIP-712 hash an owner signs to add (or a delegator or delegate to remove) `delegate`. */
export function delegateMessageHash(delegate: string, chainId: bigint | null, counter: number): string {
  const domain = { name: "Safe Transaction Service", version: "1.0", ...(chainId !== null ? { chainId } : {}) };
  return TypedDataEncoder.hash(domain, DELEGATE_TYPES, { delegateAddress: delegate, totp: counter });
}

/** The four hashes the real service accepts, in its order: product((previous, current), (chainId, none)). */
export function acceptedDelegateHashes(delegate: string, chainId: bigint, nowSeconds: number): string[] {
  const out: string[] = [];
  for (const previous of [true, false]) for (const id of [chainId, null]) out.push(delegateMessageHash(delegate, id, totp(nowSeconds, previous)));
  return out;
}

/**
 * Whether `signature` is `signer`'s over one of the accepted delegate hashes (validate_delegator_signature):
 * ok true when it is; ok false with `matched: false` when it is a valid signature of someone else (the
 * caller words that refusal); a refusal with a reason when the blob is not one valid EOA signature.
 * Only EOA signatures (EIP-712, v 27/28, or eth_sign, v 31/32) are valid here: this service does not run
 * EIP-1271 or passkey verification, and an approved hash means nothing for a delegation.
 */
export function checkDelegateSignature(delegate: string, signature: string, signer: string, chainId: bigint, nowSeconds: number): Decision<{ matched: boolean }> {
  let anyValid = false;
  for (const hash of acceptedDelegateHashes(delegate, chainId, nowSeconds)) {
    const parts = splitSignatures(hash, signature);
    if (parts.length === 0) return { ok: false, reason: "Signature is not valid" };
    if (parts.length > 1) return { ok: false, reason: "More than one signatures detected, just one is expected" };
    const part = parts[0]!;
    if ((part.type !== "EOA" && part.type !== "ETH_SIGN") || !part.owner) continue;
    anyValid = true;
    if (part.owner === signer) return { ok: true, value: { matched: true } };
  }
  if (!anyValid) return { ok: false, reason: `No valid signature found for signer=${signer}` };
  return { ok: true, value: { matched: false } };
}

/** SafeContractDelegate as the service stores it; `safe` null means every Safe the delegator owns. */
export interface DelegateRow {
  safe: string | null;
  delegate: string;
  delegator: string;
  label: string;
  expiryDate: string | null;
}

/**
 * SafeContractDelegateManager.get_for_safe: the delegations that let someone propose to `safe` now: for
 * that Safe or for every Safe, from a delegator who is a current owner (read on chain by the caller), not
 * expired. A delegator who stops being an owner takes their delegates' rights with them.
 */
export function activeDelegations(rows: DelegateRow[], safe: string, owners: string[], now: Date): DelegateRow[] {
  return rows.filter((r) => (r.safe === null || r.safe === safe) && owners.includes(r.delegator) && (r.expiryDate === null || Date.parse(r.expiryDate) > now.getTime()));
}
