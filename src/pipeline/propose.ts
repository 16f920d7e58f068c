import path from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { displayPath, writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import { listProposals, resolveProposal, withState, writeProposal, type ProposalRecord, type SafeTxRecord } from "../records/proposal.ts";
import { chooseNonce, scheduleCalldata } from "../proposal/derive.ts";
import { readSafe } from "../safe/kit.ts";
import { approveSafeTx, buildSafeTx, safeTxStatus, submitToService } from "../safe/transactions.ts";
import { checkProposalAgainstChain } from "./verify-record.ts";
import { operationState, type Setup } from "./setup.ts";
import { cancelFor } from "./cancel.ts";
import { isDelegateOf } from "./delegate.ts";
import { makeSignerPacket, writeSignerPacket } from "./packet.ts";
import { blockingFindings, packetFile, packetMarkdownFile, readSignerPacket, renderSignerPacket, type SignerPacket } from "../simulate/packet.ts";

/**
 * `gatehouse propose <proposal> --via onchain`: the Safe transaction that schedules the proposal's batch on
 * the timelock, approved on chain by the proposer (approveHash). Beside it, the guardian's cancel
 * transaction as a Transaction Builder file, so the cancel path exists before it is needed. Proposing
 * twice reuses the same Safe transaction: one Safe transaction, one operation.
 */
export interface ProposeResult {
  record: ProposalRecord;
  safeTx: SafeTxRecord;
  /** False when the proposal had already been proposed (and approved by this proposer). */
  created: boolean;
  approvedNow: boolean;
  alreadyScheduled: boolean;
  cancelFile: string;
  cancel: NonNullable<ProposalRecord["cancel"]>;
  approvals: string[];
  threshold: number;
  /** The proposer is a delegate, not an owner: it proposed, and approved nothing. */
  asDelegate: boolean;
  /** The signer packet beside the record (`<id>.validation.json` and its Markdown). */
  packet?: { file: string; markdownFile: string; markdown: string; packet: SignerPacket };
}

export async function propose(opts: { setup: Setup; proposal: string; proposer: Actor; via?: SafeTxRecord["via"]; log?: (line: string) => void }): Promise<ProposeResult> {
  const { setup, proposer } = opts;
  const via = opts.via ?? "onchain";
  if (via === "service" && !setup.service) throw new GatehouseError("USAGE", { message: "--via service needs a Safe Transaction Service: --tx-service URL or GATEHOUSE_TX_SERVICE_URL" });
  const { ctx, root } = setup;
  const { file, record: loaded } = resolveProposal(root, ctx.network, opts.proposal);
  let record = loaded;
  await checkProposalAgainstChain(setup, file, record);
  const minDelay = BigInt(setup.policy.rules.minDelaySeconds);
  if (BigInt(record.delay) < minDelay) throw new GatehouseError("DELAY_BELOW_POLICY", { delay: record.delay, min: minDelay });

  const cancel = await writeCancelFile(setup, file, record);
  const cancelFile = path.join(path.dirname(file), cancel.txBuilderFile);
  record = { ...record, cancel };
  writeProposal(file, record);
  const op = await operationState(setup.timelock, record.operationId);
  const existing = record.safeTransactions.filter((t) => t.purpose === "schedule").at(-1);
  if (op.state !== "Unset" && existing) {
    const status = await safeTxStatus(ctx, existing, setup.service);
    record = withState(record, op.state === "Done" ? "executed" : "scheduled");
    writeProposal(file, record);
    // A run cut off before its packet was written: the packet is still owed while the operation waits.
    const packet = op.state === "Done" ? undefined : await ensurePacket(setup, file, record, existing);
    return { record, safeTx: existing, created: false, approvedNow: false, alreadyScheduled: true, cancelFile, cancel, approvals: status.approvals, threshold: status.threshold, asDelegate: false, ...(packet ? { packet } : {}) };
  }
  if (op.state !== "Unset") throw new GatehouseError("PROPOSAL_STALE", { file: displayPath(file), reason: `operation ${record.operationId} is already ${op.state} on chain but was not proposed from this record` });

  const safe = await readSafe(ctx, record.safe);
  // A key that is not an owner may still propose through the service as an owner's delegate (never approve).
  const asDelegate = !safe.owners.includes(proposer.address);
  if (asDelegate && via !== "service") throw new GatehouseError("NOT_OWNER", { address: proposer.address, safe: record.safe });
  if (asDelegate && !(await isDelegateOf(setup.service!, record.safe, safe.owners, proposer.address))) {
    throw new GatehouseError("NOT_OWNER_OR_DELEGATE", { address: proposer.address, safe: record.safe, hint: `: an owner registers it with \`gatehouse delegate add ${proposer.address} --from <owner>\`` });
  }

  const data = scheduleCalldata(record);
  // Reuse the Safe transaction already proposed for this record while its nonce is still usable.
  let safeTx = existing && existing.data === data && existing.via === via && existing.nonce >= safe.nonce ? existing : undefined;
  const created = safeTx === undefined;
  if (!safeTx) {
    const pending = pendingSafeNonces(setup, record);
    // The service may already hold this very transaction (proposed by a run whose record was lost): adopt
    // it rather than propose the change twice. Otherwise skip the nonces of what it holds.
    const onService = via === "service" ? (await setup.service!.getPendingTransactions(record.safe)).results : [];
    const same = onService.find((t) => getAddress(t.to) === getAddress(record.timelock) && t.data === data && t.value === "0" && t.operation === 0);
    const serviceNext = via === "service" && !same ? Number(await setup.service!.getNextNonce(record.safe)) : undefined;
    const built = await buildSafeTx({
      ctx,
      deployment: setup.deployment,
      safe: record.safe,
      to: record.timelock,
      data,
      nonce: chooseNonce({ safeNonce: safe.nonce, pendingNonces: pending, serviceNext, ...(same ? { sameOnService: Number(same.nonce) } : {}) }),
      purpose: "schedule",
      proposer: proposer.address,
      via,
    });
    // What the batch does, simulated on a fork before the Safe transaction is recorded or anyone signs:
    // an upgrade that reverts, writes what it may not or fails a probe is not proposed. Its packet is
    // still written, so the job summary shows why.
    const candidate = withState({ ...record, safeTransactions: [...record.safeTransactions, built] }, "proposed");
    const { packet: made, report } = await makeSignerPacket(setup, candidate, built);
    const written = writeSignerPacket(file, made);
    const blocking = blockingFindings(record, report.findings);
    if (blocking.length > 0) {
      throw new GatehouseError("SIMULATION_FINDINGS", { count: blocking.length, what: `proposal ${record.id} (nothing proposed; ${displayPath(written.markdownFile)}): ${blocking.map((f) => f.message).join("; ")}` }, { details: { packet: made, markdown: written.markdown } });
    }
    safeTx = built;
    // The record names the Safe transaction before anyone signs it, so a crash cannot orphan a signature.
    record = candidate;
    writeProposal(file, record);
  }
  const packet = await ensurePacket(setup, file, record, safeTx);
  const approvedNow =
    via === "service" ? await submitToService(ctx, setup.deployment, safeTx, proposer, setup.service!) : await approveSafeTx(ctx, setup.deployment, safeTx, proposer);
  const status = await safeTxStatus(ctx, safeTx, setup.service);
  return { record, safeTx, created, approvedNow, alreadyScheduled: false, cancelFile, cancel, approvals: status.approvals, threshold: status.threshold, asDelegate, ...(packet ? { packet } : {}) };
}

/**
 * The packet of `safeTx`: the one on disk when it pins this very Safe transaction (re-proposing does not
 * re-pin what signers may already have compared; `verify` checks it), else simulated and written now.
 */
async function ensurePacket(setup: Setup, file: string, record: ProposalRecord, safeTx: SafeTxRecord): Promise<NonNullable<ProposeResult["packet"]>> {
  let existing: SignerPacket | undefined;
  try {
    existing = readSignerPacket(packetFile(file));
  } catch {
    existing = undefined; // unreadable: written again below
  }
  if (existing && existing.safeTx.safeTxHash === safeTx.safeTxHash) {
    // The Markdown is the JSON's rendering (verify checks it): a missing or edited one is written again.
    const markdown = renderSignerPacket(existing);
    const markdownFile = packetMarkdownFile(file);
    if (!existsSync(markdownFile) || readFileSync(markdownFile, "utf8") !== markdown) writeFileAtomic(markdownFile, markdown);
    return { file: packetFile(file), markdownFile, markdown, packet: existing };
  }
  const { packet } = await makeSignerPacket(setup, record, safeTx);
  return { ...writeSignerPacket(file, packet), packet };
}

/** Nonces of the Safe transactions that other proposals hold for the same Safe and that have not run. */
export function pendingSafeNonces(setup: Setup, record: ProposalRecord): number[] {
  return listProposals(setup.root, setup.ctx.network)
    .filter((p) => p.record.id !== record.id)
    .flatMap((p) => p.record.safeTransactions.filter((t) => getAddress(t.safe) === getAddress(record.safe) && !t.executedTx))
    .map((t) => t.nonce);
}

/**
 * proposals/<network>/<id>.cancel.json: the guardian's cancel(bytes32) as a Transaction Builder batch
 * of one call. When the guardian is a Safe, the Transaction Builder proposes exactly that call, so its
 * hashes at the guardian Safe's current nonce are computed too, for the guardian's signers to compare.
 */
async function writeCancelFile(setup: Setup, file: string, record: ProposalRecord): Promise<NonNullable<ProposalRecord["cancel"]>> {
  const cancelFile = file.replace(/\.json$/, ".cancel.json");
  const { calldata, target, txBuilder, guardianSafeTx } = await cancelFor(setup, record.operationId, record);
  writeJsonAtomic(cancelFile, txBuilder);
  return { calldata, target, txBuilderFile: path.basename(cancelFile), ...(guardianSafeTx ? { guardianSafeTx } : {}) };
}
