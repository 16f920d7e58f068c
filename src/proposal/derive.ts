import { getAddress } from "ethers";
import { bytecodeHash, type ImmutableReferences } from "../plan/bytecode.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { safeCall, safeTxHashes, type SafeTxHashes } from "../safe/hash.ts";
import { cancelTxBuilderFile, type TxBuilderFile } from "../review/tx-builder.ts";
import { escapePlain, untag } from "../review/untrusted.ts";
import { encodeCancel, encodeExecuteBatch, encodeScheduleBatch, formatDuration, hashOperationBatch, type Batch, type OperationState } from "../timelock/calls.ts";

/**
 * The proposal domain: everything a proposal record means, derived in one place (pure). stage, propose,
 * sign, execute, cancel, verify, the watcher and the Actions glue ask these functions instead of
 * rebuilding the batch, the calldata, the cancel file or the Safe nonce each in their own way.
 */

type BatchFields = Pick<ProposalRecord, "operations" | "predecessor" | "salt"> & Partial<Pick<ProposalRecord, "kind" | "actions">>;

/** The timelock batch of a proposal: its calls in order (a governance record's are its actions'), the predecessor and the salt. */
export function batchOf(record: BatchFields): Batch {
  const items = record.kind === "governance" ? (record.actions ?? []) : record.operations;
  return {
    calls: items.map((o) => ({ target: o.call.target, value: BigInt(o.call.value), data: o.call.data })),
    predecessor: record.predecessor,
    salt: record.salt,
  };
}

/** The operation id recomputed from the calls (never read from the record). */
export function operationIdOf(record: BatchFields): string {
  return hashOperationBatch(batchOf(record));
}

/** `scheduleBatch(...)` with the recorded delay: the data of the Safe transaction that proposes it. */
export function scheduleCalldata(record: BatchFields & Pick<ProposalRecord, "delay">): string {
  return encodeScheduleBatch(batchOf(record), BigInt(record.delay));
}

/** `executeBatch(...)`: what the executor (or the Safe, when it holds EXECUTOR_ROLE) sends after the ETA. */
export function executeCalldata(record: BatchFields): string {
  return encodeExecuteBatch(batchOf(record));
}

/** executeBatch's arguments, for a contract call. */
export function executeBatchArgs(record: BatchFields): { targets: string[]; values: bigint[]; payloads: string[]; predecessor: string; salt: string } {
  const b = batchOf(record);
  return { targets: b.calls.map((c) => c.target), values: b.calls.map((c) => c.value), payloads: b.calls.map((c) => c.data), predecessor: b.predecessor, salt: b.salt };
}

// ---------------------------------------------------------------------------------------------------
// The implementation's code

/**
 * On-chain code as the record hashes it: immutables masked with the ranges recorded at stage time, never
 * today's build (a later edit of the contract must not make a pending proposal look stale). Records from
 * before those ranges were kept pass `fallbackRefs`. `expected` is undefined when the record has no build
 * entry for the proxy.
 */
export function recordedCodeHash(record: Pick<ProposalRecord, "artifacts">, proxy: string, code: string, fallbackRefs?: ImmutableReferences): { actual: string; expected?: string } {
  const entry = record.artifacts[proxy];
  return { actual: bytecodeHash(code, entry?.immutableReferences ?? fallbackRefs), ...(entry ? { expected: entry.bytecodeHash } : {}) };
}

// ---------------------------------------------------------------------------------------------------
// The cancel path

export interface CancelArtifact {
  target: string;
  calldata: string;
  /** The Transaction Builder file for the guardian (a Safe, or its owners' UI). */
  txBuilder: TxBuilderFile;
  /** When the guardian is a Safe: the cancel as its Safe transaction at `nonce`, with the three hashes. */
  guardianSafeTx?: { safe: string; nonce: number } & SafeTxHashes;
}

/**
 * The guardian's cancel of an operation: the exact call and ONE Transaction Builder file. Its content
 * depends only on the operation (and the guardian Safe and nonce), so propose, `gatehouse cancel` and the
 * watcher's review hand out byte-identical files with the same checksum.
 */
export function cancelArtifact(input: {
  chainId: number | bigint;
  timelock: string;
  operationId: string;
  /** Plain words for the file's description, e.g. "vault -> VaultV2". */
  what?: string;
  /** The proposal's creation time (ms); files of operations without a record use 0. */
  createdAt?: number;
  guardianSafe?: { safe: string; nonce: number };
}): CancelArtifact {
  const calldata = encodeCancel(input.operationId);
  const timelock = getAddress(input.timelock);
  const g = input.guardianSafe;
  const guardianSafeTx = g ? { safe: getAddress(g.safe), nonce: g.nonce, ...safeTxHashes(BigInt(input.chainId), g.safe, safeCall(timelock, calldata, g.nonce)) } : undefined;
  const description =
    // `what` names proxies and contracts from a record (claims): one line, nothing that pings or links.
    `Cancel timelock operation ${input.operationId}${input.what ? ` (${escapePlain(untag(input.what))})` : ""} before it is executed.` +
    (guardianSafeTx ? ` At guardian Safe nonce ${guardianSafeTx.nonce}: safeTxHash ${guardianSafeTx.safeTxHash}, domain hash ${guardianSafeTx.domainHash}, message hash ${guardianSafeTx.messageHash}.` : "");
  const txBuilder = cancelTxBuilderFile({
    chainId: BigInt(input.chainId),
    timelock,
    operationId: input.operationId,
    calldata,
    guardianSafe: guardianSafeTx?.safe,
    description,
    createdAt: input.createdAt ?? 0,
  });
  return { target: timelock, calldata, txBuilder, ...(guardianSafeTx ? { guardianSafeTx } : {}) };
}

/** "vault -> VaultV2, registry -> RegistryV2": what a proposal does, in the words of its record. */
export function proposalWords(record: Pick<ProposalRecord, "operations"> & Partial<Pick<ProposalRecord, "kind" | "actions" | "rollbackOf">>): string {
  if (record.kind === "governance") return (record.actions ?? []).map(governanceActionWords).join(", ");
  const words = record.operations.map((o) => `${o.proxy} -> ${o.contract}`).join(", ");
  return record.rollbackOf ? `rollback of proposal ${record.rollbackOf.proposal}: ${words}` : words;
}

/** One governance action in the words of its record, e.g. "updateDelay 86400s", "grantRole CANCELLER_ROLE to 0x…". */
export function governanceActionWords(a: NonNullable<ProposalRecord["actions"]>[number]): string {
  if (a.action === "updateDelay") return `updateDelay ${a.delaySeconds}s`;
  if (a.action === "unpause") return `unpause ${a.proxy}`;
  return `${a.action} ${a.role} ${a.action === "grantRole" ? "to" : "from"} ${a.account}`;
}

// ---------------------------------------------------------------------------------------------------
// The Safe nonce

/**
 * The nonce for a new Safe transaction: never below the Safe's, never one that another pending Gatehouse
 * transaction (any proposal, any purpose) already took, and never below what the transaction service
 * already holds. When the service holds this very transaction (a run whose record was lost), its nonce.
 */
export function chooseNonce(input: { safeNonce: number; pendingNonces: number[]; serviceNext?: number; sameOnService?: number }): number {
  if (input.sameOnService !== undefined) return input.sameOnService;
  const used = input.pendingNonces.filter((n) => n >= input.safeNonce);
  const local = used.length === 0 ? input.safeNonce : Math.max(...used) + 1;
  return Math.max(local, input.serviceNext ?? 0);
}

// ---------------------------------------------------------------------------------------------------
// The next step

/** What the chain says about a proposal, read by the shell. */
export interface ChainView {
  operation: { state: OperationState; eta: bigint };
  now: bigint;
  /** The latest schedule Safe transaction of the record, if any: executed, and approvals so far. */
  scheduleTx?: { executed: boolean; approvals: number; threshold: number };
  /** A Cancelled event exists for the operation id. */
  cancelled: boolean;
}

export type NextStep =
  | { step: "propose"; why: string }
  | { step: "collect-approvals"; have: number; need: number }
  | { step: "execute-safe-tx" }
  | { step: "wait"; eta: bigint; secondsLeft: bigint; text: string }
  | { step: "execute-operation" }
  | { step: "post-checks" }
  | { step: "cancelled" };

/**
 * Where a proposal stands and what moves it forward. A cancelled operation is Unset again on chain; it
 * is told apart from "not yet scheduled" by its Cancelled event and by its schedule transaction having
 * run (an operation whose schedule transaction has not executed is simply not scheduled yet).
 */
export function nextStep(record: Pick<ProposalRecord, "safeTransactions">, view: ChainView): NextStep {
  const { state, eta } = view.operation;
  if (state === "Done") return { step: "post-checks" };
  if (state === "Ready") return { step: "execute-operation" };
  if (state === "Waiting") {
    const left = eta > view.now ? eta - view.now : 0n;
    return { step: "wait", eta, secondsLeft: left, text: `${formatDuration(left)} left` };
  }
  const hasSchedule = record.safeTransactions.some((t) => t.purpose === "schedule");
  if (view.cancelled && (!hasSchedule || view.scheduleTx?.executed)) return { step: "cancelled" };
  if (!hasSchedule || !view.scheduleTx) return { step: "propose", why: "no Safe transaction schedules it yet" };
  if (view.scheduleTx.executed) return { step: "propose", why: "its Safe transaction ran but the operation is not on the timelock" };
  if (view.scheduleTx.approvals < view.scheduleTx.threshold) return { step: "collect-approvals", have: view.scheduleTx.approvals, need: view.scheduleTx.threshold };
  return { step: "execute-safe-tx" };
}
