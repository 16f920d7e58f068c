import { getAddress } from "ethers";
import type { Actor, ChainContext } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import type { DeploymentRecord } from "../records/deployment.ts";
import type { SafeTxRecord } from "../records/proposal.ts";
import { safeCall, safeTxHashes, type SafeTxData } from "./hash.ts";
import { approvalsOf, kitForSafe, readSafe, safeContract, type SafeKit } from "./kit.ts";

/**
 * The Safe-transaction steps shared by the schedule and the execute transactions of a proposal: build
 * (and check protocol-kit's hash against our own), approve on chain with approveHash, execute once the
 * threshold is met. Each step reads the chain first, so repeating it does nothing twice.
 */

export function safeTxData(tx: SafeTxRecord): SafeTxData {
  const { to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, nonce } = tx;
  return { to, value, data, operation, safeTxGas, baseGas, gasPrice, gasToken, refundReceiver, nonce };
}

/** Build the Safe transaction record for a call from the Safe to `to`, verifying protocol-kit's hash against ours. */
export async function buildSafeTx(input: {
  ctx: ChainContext;
  deployment: DeploymentRecord;
  safe: string;
  to: string;
  data: string;
  nonce: number;
  purpose: SafeTxRecord["purpose"];
  proposer: string;
  via: SafeTxRecord["via"];
}): Promise<SafeTxRecord> {
  const tx = safeCall(input.to, input.data, input.nonce);
  const hashes = safeTxHashes(input.ctx.chainId, input.safe, tx);
  const kit = await kitForSafe(input.ctx, input.deployment, input.safe);
  const kitTx = await kit.createTransaction({ transactions: [{ to: tx.to, value: tx.value, data: tx.data }], options: { nonce: tx.nonce } });
  const kitHash = await kit.getTransactionHash(kitTx);
  // Verify what is about to be signed: protocol-kit and the pure hash must agree on every field.
  if (kitHash.toLowerCase() !== hashes.safeTxHash.toLowerCase()) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `the Safe transaction hash (protocol-kit ${kitHash}, recomputed ${hashes.safeTxHash})` });
  }
  return { purpose: input.purpose, safe: getAddress(input.safe), ...tx, ...hashes, proposer: input.proposer, via: input.via };
}

export interface SafeTxStatus {
  approvals: string[];
  threshold: number;
  owners: string[];
  safeNonce: number;
  executed: boolean;
  executedTx?: string;
}

export async function safeTxStatus(ctx: ChainContext, tx: SafeTxRecord): Promise<SafeTxStatus> {
  const safe = await readSafe(ctx, tx.safe);
  const approvals = await approvalsOf(ctx, tx.safe, safe.owners, tx.safeTxHash);
  const contract = safeContract(ctx, tx.safe);
  const logs = safe.nonce > tx.nonce ? await contract.queryFilter(contract.filters.ExecutionSuccess!(tx.safeTxHash), 0, "latest") : [];
  return {
    approvals,
    threshold: safe.threshold,
    owners: safe.owners,
    safeNonce: safe.nonce,
    executed: logs.length > 0,
    executedTx: logs[0]?.transactionHash,
  };
}

/** approveHash from `signer`; refuses non-owners. Returns false when the signer had already approved. */
export async function approveSafeTx(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, signer: Actor): Promise<boolean> {
  const status = await safeTxStatus(ctx, tx);
  if (!status.owners.includes(signer.address)) throw new GatehouseError("NOT_OWNER", { address: signer.address, safe: tx.safe });
  if (status.executed || status.approvals.includes(signer.address)) return false;
  const kit = await kitForSafe(ctx, deployment, tx.safe, signer.kitSigner);
  const result = await kit.approveTransactionHash(tx.safeTxHash);
  await waitFor(ctx, result.hash);
  return true;
}

/** Execute once enough owners approved on chain; any account may relay it. Returns the transaction hash. */
export async function executeSafeTx(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, executor: Actor): Promise<string> {
  const status = await safeTxStatus(ctx, tx);
  if (status.executed) return status.executedTx!;
  if (status.approvals.length < status.threshold) {
    throw new GatehouseError("THRESHOLD_NOT_MET", { safeTxHash: tx.safeTxHash, have: status.approvals.length, need: status.threshold });
  }
  if (status.safeNonce !== tx.nonce) {
    throw new GatehouseError("PROPOSAL_STALE", { file: "(Safe transaction)", reason: `the Safe's nonce is ${status.safeNonce} but this transaction has nonce ${tx.nonce}` });
  }
  const kit: SafeKit = await kitForSafe(ctx, deployment, tx.safe, executor.kitSigner);
  const d = safeTxData(tx);
  const kitTx = await kit.createTransaction({ transactions: [{ to: d.to, value: d.value, data: d.data }], options: { nonce: d.nonce } });
  if ((await kit.getTransactionHash(kitTx)).toLowerCase() !== tx.safeTxHash.toLowerCase()) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: "the Safe transaction rebuilt for execution" });
  }
  // protocol-kit adds a pre-validated signature for each owner that approved the hash on chain.
  const result = await kit.executeTransaction(kitTx);
  const receipt = await waitFor(ctx, result.hash);
  if (!receipt || receipt.status !== 1) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `executing Safe transaction ${tx.safeTxHash}`, reason: "reverted" });
  const after = await safeTxStatus(ctx, tx);
  if (!after.executed) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `executing Safe transaction ${tx.safeTxHash}`, reason: "the Safe reported ExecutionFailure" });
  return result.hash;
}

function waitFor(ctx: ChainContext, hash: string) {
  return ctx.ethers.provider.waitForTransaction(hash);
}

/** The next free Safe nonce, counting Safe transactions already proposed in other proposals and not yet executed. */
export function nextNonce(safeNonce: number, pending: SafeTxRecord[]): number {
  const used = pending.map((t) => t.nonce).filter((n) => n >= safeNonce);
  return used.length === 0 ? safeNonce : Math.max(...used) + 1;
}
