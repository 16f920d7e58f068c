import { getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { writeJsonAtomic } from "../fs/atomic.ts";
import { listProposals, writeProposal, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { approveSafeTx, safeTxStatus } from "../safe/transactions.ts";
import { safeTxHashes } from "../safe/hash.ts";
import { safeTxData } from "../safe/transactions.ts";
import { readSignature } from "../safe/signatures.ts";
import { safeTxTypedData, type SafeTypedData } from "../safe/inspect.ts";
import type { Setup } from "./setup.ts";
import { assertSafeTxShape } from "./verify-record.ts";
import { scheduleSafeTx } from "../simulate/packet.ts";
import { verify, type VerifyCheck } from "./verify.ts";

/**
 * `gatehouse sign <safeTxHash>`: another owner approves a proposed Safe transaction (approveHash on
 * chain, or a signature on the service). Nothing is approved before the whole of `gatehouse verify`
 * passes for its proposal: Gatehouse's one Safe transaction shape, the hash recomputed from the recorded
 * fields, the record against the chain and the policy, and the implementations against the build at
 * the proposal's commit. An owner never approves what verify would not call verified.
 */
export interface SignResult {
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  approvedNow: boolean;
  approvals: string[];
  threshold: number;
  executed: boolean;
  /** The verification that ran before approving (every check passed). */
  checks: VerifyCheck[];
}

export function findSafeTx(setup: Setup, safeTxHash: string): { file: string; record: ProposalRecord; safeTx: SafeTxRecord } {
  const wanted = safeTxHash.toLowerCase();
  for (const { file, record } of listProposals(setup.root, setup.ctx.network)) {
    const safeTx = record.safeTransactions.find((t) => t.safeTxHash.toLowerCase() === wanted);
    if (safeTx) return { file, record, safeTx };
  }
  throw new GatehouseError("FILE_NOT_FOUND", { file: `proposals/${setup.ctx.network}/`, what: `no proposal has Safe transaction ${safeTxHash}` });
}

/**
 * `build: "current"` compares with the working tree's build instead of the commit's: only for the
 * in-process demo on a Hardhat dev chain, refused anywhere else.
 */
export async function sign(opts: { setup: Setup; safeTxHash: string; signer: Actor; build?: "commit" | "current" }): Promise<SignResult> {
  const { setup, signer } = opts;
  const { record, safeTx, checks } = await verifiedForSigning(setup, opts.safeTxHash, opts.build);
  const approvedNow = await approveSafeTx(setup.ctx, setup.deployment, safeTx, signer, setup.service);
  const status = await safeTxStatus(setup.ctx, safeTx, setup.service);
  return { record, safeTx, approvedNow, approvals: status.approvals, threshold: status.threshold, executed: status.executed, checks };
}

/** Everything `sign` proves before any signature is made, exported, or accepted. */
async function verifiedForSigning(setup: Setup, safeTxHash: string, build?: "commit" | "current"): Promise<{ file: string; record: ProposalRecord; safeTx: SafeTxRecord; checks: VerifyCheck[] }> {
  const { file, record, safeTx } = findSafeTx(setup, safeTxHash);
  assertSafeTxShape(safeTx, record.timelock);
  // The signer packet (what verify compares and a signer reads) pins the record's latest schedule transaction.
  const pinned = scheduleSafeTx(record);
  if (safeTx.purpose === "schedule" && pinned && pinned.safeTxHash !== safeTx.safeTxHash) {
    throw new GatehouseError("SIGN_REFUSED", {
      safeTxHash: safeTx.safeTxHash,
      count: 1,
      failures: `signer packet (it shows the record's latest schedule Safe transaction ${pinned.safeTxHash} at nonce ${pinned.nonce}; this one, at nonce ${safeTx.nonce}, is not what signers compared)`,
    });
  }
  const recomputed = safeTxHashes(setup.ctx.chainId, safeTx.safe, safeTxData(safeTx));
  if (recomputed.safeTxHash !== safeTx.safeTxHash) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `Safe transaction ${safeTx.safeTxHash} (its fields hash to ${recomputed.safeTxHash})` });
  }
  if (build === "current" && !setup.ctx.isDevNetwork) throw new GatehouseError("USAGE", { message: "signing against the current build is only for Hardhat dev networks (the demo)" });
  const v = await verify({ setup, proposal: { record, file }, build: build ?? "commit" });
  const failed = v.checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new GatehouseError(
      "SIGN_REFUSED",
      { safeTxHash: safeTx.safeTxHash, count: failed.length, failures: failed.map((c) => `${c.name} (${c.detail})`).join("; ") },
      { details: { checks: v.checks } },
    );
  }
  return { file, record, safeTx, checks: v.checks };
}

/**
 * `sign --export-typed-data FILE`: after the same verification as `sign`, the EIP-712 typed data of the
 * Safe transaction, for a hardware wallet (Frame, `cast wallet sign --data`) or Safe{Wallet}. No key is used.
 */
export async function exportTypedData(opts: { setup: Setup; safeTxHash: string; file: string }): Promise<{ record: ProposalRecord; safeTx: SafeTxRecord; typedData: SafeTypedData; checks: VerifyCheck[] }> {
  const { record, safeTx, checks } = await verifiedForSigning(opts.setup, opts.safeTxHash);
  const typedData = safeTxTypedData(opts.setup.ctx.chainId, safeTx.safe, safeTxData(safeTx));
  writeJsonAtomic(opts.file, typedData);
  return { record, safeTx, typedData, checks };
}

/**
 * `sign --signature 0x…`: accept a signature made elsewhere over the verified Safe transaction, once it
 * recovers to a current owner. It goes where the transaction's approvals live: the Safe Transaction
 * Service (`via: service`) or the proposal record (`via: onchain`), where execute counts it after
 * recovering it again.
 */
export async function submitSignature(opts: { setup: Setup; safeTxHash: string; signature: string }): Promise<SignResult & { owner: string; addedNow: boolean }> {
  const { setup } = opts;
  const { file, record, safeTx, checks } = await verifiedForSigning(setup, opts.safeTxHash);
  const hex = opts.signature.startsWith("0x") ? opts.signature : `0x${opts.signature}`;
  if (!/^0x[0-9a-fA-F]{130}$/.test(hex)) throw new GatehouseError("SIGNATURE_INVALID", { reason: `expected 65 bytes (0x followed by 130 hex digits), got ${hex.length > 140 ? "a longer value" : `${Math.max(0, hex.length - 2)} hex digits`}` });
  const sig = readSignature(safeTx.safeTxHash, hex);
  if (sig.type !== "EOA" && sig.type !== "ETH_SIGN") throw new GatehouseError("SIGNATURE_INVALID", { reason: `v = ${sig.v} marks a ${sig.type} signature; expected an ECDSA signature (v 27/28 for EIP-712, 31/32 for eth_sign)` });
  if (!sig.owner) throw new GatehouseError("SIGNATURE_INVALID", { reason: "r, s or v is out of range: nothing can be recovered" });
  const before = await safeTxStatus(setup.ctx, safeTx, setup.service);
  const owner = getAddress(sig.owner);
  if (!before.owners.includes(owner)) {
    // A signature over other data recovers to some unrelated address: the same refusal, with that address.
    throw new GatehouseError("SIGNATURE_NOT_OWNER", { safeTxHash: safeTx.safeTxHash, recovered: owner, safe: safeTx.safe });
  }
  let addedNow = false;
  if (!before.executed && !before.approvals.includes(owner)) {
    if (safeTx.via === "service") {
      if (!setup.service) throw new GatehouseError("USAGE", { message: `Safe transaction ${safeTx.safeTxHash} was proposed to a Safe Transaction Service: pass --tx-service URL` });
      await setup.service.confirmTransaction(safeTx.safeTxHash, sig.hex);
    } else {
      const updated: ProposalRecord = {
        ...record,
        safeTransactions: record.safeTransactions.map((t) => (t.safeTxHash === safeTx.safeTxHash ? { ...t, signatures: [...(t.signatures ?? []), { owner, signature: sig.hex }] } : t)),
      };
      writeProposal(file, updated);
    }
    addedNow = true;
  }
  const saved = findSafeTx(setup, safeTx.safeTxHash).safeTx;
  const status = await safeTxStatus(setup.ctx, saved, setup.service);
  return { record, safeTx: saved, approvedNow: addedNow, addedNow, owner, approvals: status.approvals, threshold: status.threshold, executed: status.executed, checks };
}
