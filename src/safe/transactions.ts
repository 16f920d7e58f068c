import { assertSafeTxShape } from "./shape.ts";
import { EthSafeSignature } from "@safe-global/protocol-kit";
import { getAddress } from "ethers";
import { readSignature } from "./signatures.ts";
import type { Actor, ChainContext } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import type { DeploymentRecord } from "../records/deployment.ts";
import type { SafeTxRecord } from "../records/proposal.ts";
import { SAFE_TX_TYPES, safeCall, safeTxHashes, type SafeTxData } from "./hash.ts";
import { approvalsOf, kitForSafe, readSafe, safeContract, type SafeKit } from "./kit.ts";
import { isNotFound, type ApiKit } from "./service-client.ts";

/**
 * The Safe-transaction steps shared by the schedule and the execute transactions of a proposal: build
 * (and check protocol-kit's hash against our own), approve, execute once the threshold is met.
 * Approvals are on-chain approveHash calls (`--via onchain`) or signatures collected by a Safe
 * Transaction Service (`--via service`); both count. Each step reads the chain (and the service) first,
 * so repeating it does nothing twice.
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
  await kitTransaction(kit, { ...tx, ...hashes });
  const proposedAtBlock = await input.ctx.ethers.provider.getBlockNumber();
  return { purpose: input.purpose, safe: getAddress(input.safe), ...tx, ...hashes, proposer: input.proposer, via: input.via, proposedAtBlock };
}

/** protocol-kit's SafeTransaction for a record, refusing it if protocol-kit hashes it differently. */
async function kitTransaction(kit: SafeKit, tx: SafeTxData & { safeTxHash: string }) {
  const kitTx = await kit.createTransaction({ transactions: [{ to: tx.to, value: tx.value, data: tx.data }], options: { nonce: tx.nonce } });
  const kitHash = await kit.getTransactionHash(kitTx);
  // Verify what is about to be signed or sent: protocol-kit and the pure hash must agree on every field.
  if (kitHash.toLowerCase() !== tx.safeTxHash.toLowerCase()) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `the Safe transaction hash (protocol-kit ${kitHash}, recomputed ${tx.safeTxHash})` });
  }
  return kitTx;
}

/**
 * The owner that produced `signature` over `safeTxHash`, for the signature kinds an EOA owner makes:
 * EIP-712 (v 27/28) and eth_sign (v 31/32). Other kinds (approved hash, contract) return undefined.
 */
export function recoverOwner(safeTxHash: string, signature: string): string | undefined {
  if (signature.replace(/^0x/, "").length !== 130) return undefined;
  const sig = readSignature(safeTxHash, signature);
  return sig.type === "EOA" || sig.type === "ETH_SIGN" ? sig.owner : undefined;
}

export interface SafeTxStatus {
  /** Owners whose approval counts: approveHash on chain, or a service signature we recovered ourselves. */
  approvals: string[];
  /** Service (or recorded) signatures that recover to a current owner, ready to be attached at execution. */
  serviceSignatures: { owner: string; signature: string }[];
  threshold: number;
  owners: string[];
  safeNonce: number;
  executed: boolean;
  executedTx?: string;
  /** Whether the service has the transaction (only asked for `via: service`). */
  onService?: boolean;
}

export async function safeTxStatus(ctx: ChainContext, tx: SafeTxRecord, service?: ApiKit): Promise<SafeTxStatus> {
  const safe = await readSafe(ctx, tx.safe);
  const onchain = await approvalsOf(ctx, tx.safe, safe.owners, tx.safeTxHash);
  const contract = safeContract(ctx, tx.safe);
  const logs = safe.nonce > tx.nonce ? await contract.queryFilter(contract.filters.ExecutionSuccess!(tx.safeTxHash), tx.proposedAtBlock ?? 0, "latest") : [];
  const serviceSignatures: SafeTxStatus["serviceSignatures"] = [];
  // Signatures recorded by `sign --signature`: a record is a claim, so each counts only if it recovers to that current owner.
  for (const s of tx.signatures ?? []) {
    const owner = recoverOwner(tx.safeTxHash, s.signature);
    if (owner && getAddress(owner) === getAddress(s.owner) && safe.owners.includes(getAddress(owner)) && !serviceSignatures.some((x) => x.owner === getAddress(owner))) {
      serviceSignatures.push({ owner: getAddress(owner), signature: s.signature });
    }
  }
  let onService: boolean | undefined;
  if (tx.via === "service" && service) {
    try {
      const remote = await service.getTransaction(tx.safeTxHash);
      onService = true;
      for (const c of remote.confirmations ?? []) {
        // Trust no service: a confirmation counts only if its signature recovers to that current owner.
        const owner = c.signature ? recoverOwner(tx.safeTxHash, c.signature) : undefined;
        if (owner && getAddress(owner) === getAddress(c.owner) && safe.owners.includes(getAddress(owner)) && !serviceSignatures.some((x) => x.owner === getAddress(owner))) {
          serviceSignatures.push({ owner: getAddress(owner), signature: c.signature! });
        }
      }
    } catch (e) {
      if (!isNotFound(e)) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `reading ${tx.safeTxHash} from the Safe Transaction Service`, reason: (e as Error).message }, { cause: e });
      onService = false;
    }
  }
  const approvals = [...new Set([...onchain, ...serviceSignatures.map((s) => s.owner)])];
  return {
    approvals,
    serviceSignatures,
    threshold: safe.threshold,
    owners: safe.owners,
    safeNonce: safe.nonce,
    executed: logs.length > 0,
    executedTx: logs[0]?.transactionHash,
    onService,
  };
}

/** The EIP-712 signature of `signer` over the Safe transaction, made by protocol-kit. */
async function signatureOf(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, signer: Actor): Promise<string> {
  const kit = await kitForSafe(ctx, deployment, tx.safe, signer.kitSigner);
  const signed = await kit.signTransaction(await kitTransaction(kit, tx));
  const sig = signed.getSignature(signer.address.toLowerCase()) ?? signed.getSignature(signer.address);
  if (!sig) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `signing ${tx.safeTxHash}`, reason: "protocol-kit returned no signature" });
  if (recoverOwner(tx.safeTxHash, sig.data) !== signer.address) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `the signature of ${signer.address} (it does not recover to the signer)` });
  }
  return sig.data;
}

/**
 * A delegate's EIP-712 signature over the Safe transaction. protocol-kit signs only for owners; the
 * service needs the delegate's signature to prove who proposes, and never counts it as an approval.
 */
async function delegateSignatureOf(ctx: ChainContext, tx: SafeTxRecord, delegate: Actor): Promise<string> {
  const sig = await delegate.signer.signTypedData({ chainId: ctx.chainId, verifyingContract: tx.safe }, SAFE_TX_TYPES, safeTxData(tx));
  if (recoverOwner(tx.safeTxHash, sig) !== delegate.address) {
    throw new GatehouseError("VERIFY_FAILED", { count: 1, what: `the signature of ${delegate.address} (it does not recover to the signer over ${tx.safeTxHash})` });
  }
  return sig;
}

/**
 * Put a `via: service` transaction on the service with the proposer's signature, unless it is there
 * already. An owner's signature is also its approval; a delegate's (a proposer that is not an owner) is not.
 */
export async function submitToService(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, proposer: Actor, service: ApiKit): Promise<boolean> {
  // The last line of defence: whoever calls, nothing but Gatehouse's one shape is signed, sent or executed.
  if (deployment.timelock) assertSafeTxShape(tx, deployment.timelock.address);
  const status = await safeTxStatus(ctx, tx, service);
  if (status.onService) return false;
  const signature = status.owners.includes(proposer.address) ? await signatureOf(ctx, deployment, tx, proposer) : await delegateSignatureOf(ctx, tx, proposer);
  await service.proposeTransaction({
    safeAddress: tx.safe,
    safeTransactionData: safeTxData(tx),
    safeTxHash: tx.safeTxHash,
    senderAddress: proposer.address,
    senderSignature: signature,
    origin: "gatehouse",
  });
  return true;
}

/** Approve as `signer` (an owner): approveHash on chain, or a signature confirmed on the service. False when already approved. */
export async function approveSafeTx(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, signer: Actor, service?: ApiKit): Promise<boolean> {
  // The last line of defence: whoever calls, nothing but Gatehouse's one shape is signed, sent or executed.
  if (deployment.timelock) assertSafeTxShape(tx, deployment.timelock.address);
  const status = await safeTxStatus(ctx, tx, service);
  if (!status.owners.includes(signer.address)) throw new GatehouseError("NOT_OWNER", { address: signer.address, safe: tx.safe });
  if (status.executed || status.approvals.includes(signer.address)) return false;
  if (tx.via === "service") {
    if (!service) throw new GatehouseError("USAGE", { message: `Safe transaction ${tx.safeTxHash} was proposed to a Safe Transaction Service: pass --tx-service URL` });
    if (!status.onService) throw new GatehouseError("PROPOSAL_STALE", { file: "(Safe Transaction Service)", reason: `the service does not have ${tx.safeTxHash}; run propose again` });
    await service.confirmTransaction(tx.safeTxHash, await signatureOf(ctx, deployment, tx, signer));
    return true;
  }
  const kit = await kitForSafe(ctx, deployment, tx.safe, signer.kitSigner);
  const result = await kit.approveTransactionHash(tx.safeTxHash);
  await ctx.ethers.provider.waitForTransaction(result.hash);
  return true;
}

/** Execute once enough owners approved; any account may relay it. Returns the transaction hash. */
export async function executeSafeTx(ctx: ChainContext, deployment: DeploymentRecord, tx: SafeTxRecord, executor: Actor, service?: ApiKit): Promise<string> {
  // The last line of defence: whoever calls, nothing but Gatehouse's one shape is signed, sent or executed.
  if (deployment.timelock) assertSafeTxShape(tx, deployment.timelock.address);
  const status = await safeTxStatus(ctx, tx, service);
  if (status.executed) return status.executedTx!;
  if (status.approvals.length < status.threshold) {
    throw new GatehouseError("THRESHOLD_NOT_MET", { safeTxHash: tx.safeTxHash, have: status.approvals.length, need: status.threshold });
  }
  if (status.safeNonce !== tx.nonce) {
    throw new GatehouseError("PROPOSAL_STALE", { file: "(Safe transaction)", reason: `the Safe's nonce is ${status.safeNonce} but this transaction has nonce ${tx.nonce}` });
  }
  const kit: SafeKit = await kitForSafe(ctx, deployment, tx.safe, executor.kitSigner);
  const kitTx = await kitTransaction(kit, tx);
  for (const s of status.serviceSignatures) kitTx.addSignature(new EthSafeSignature(s.owner, s.signature));
  // protocol-kit also adds a pre-validated signature for each owner that approved the hash on chain.
  const result = await kit.executeTransaction(kitTx);
  const receipt = await ctx.ethers.provider.waitForTransaction(result.hash);
  if (!receipt || receipt.status !== 1) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `executing Safe transaction ${tx.safeTxHash}`, reason: "reverted" });
  const after = await safeTxStatus(ctx, tx);
  if (!after.executed) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `executing Safe transaction ${tx.safeTxHash}`, reason: "the Safe reported ExecutionFailure" });
  return result.hash;
}
