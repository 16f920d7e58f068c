import { AbiCoder, Interface, ZeroAddress, ZeroHash, getAddress, keccak256, toUtf8Bytes } from "ethers";
import type { DeploymentRecord } from "../records/deployment.ts";
import type { ProposalRecord } from "../records/proposal.ts";
import { alertSummary, renderAlertMarkdown, type EventAlert } from "../review/alert.ts";
import {
  cancelPath,
  operationReviewJson,
  renderOperationMarkdown,
  reviewSummary,
  reviewTitle,
  timeLeft,
  type Alert,
  type AlertKind,
  type Guardian,
  type OperationReview,
  type OperationStatus,
  type ReviewCall,
  type VerificationCheck,
} from "../review/operation.ts";
import { untrusted } from "../review/untrusted.ts";
import { ROLES, decodeUpgradeCall, formatDuration, hashOperationBatch, timelockInterface, type Call } from "../timelock/calls.ts";
import { OPERATION_EVENTS, compareEvents, type WatchedEvent } from "./events.ts";

/**
 * The watcher's functional core: canonical events + proposal records + chain facts → the posts that
 * should exist, each with a severity. No provider, no file system, no clock: everything is passed in.
 *
 * Severity: an operation that matches a proposal record (its id recomputed from the record's calls) is a
 * review; an operation with no record, a record whose calls or bytecode do not check out, an upgrade
 * that did not go through the timelock, a role change, an ownership or admin change, a delay change is
 * an alert. Events that establish exactly the recorded deployment (the constructor's roles sent by the
 * deployer before it renounced, proxies created at their initial implementation) are neither.
 */

export interface Topology {
  network: string;
  chainId: number;
  timelock: string;
  safe: string;
  deployer: string;
  adminRenounced: boolean;
  minDelay: number;
  cancellers: string[];
  proxies: { name: string; address: string; kind: "uups" | "transparent"; proxyAdmin?: string; initialImplementation: string }[];
  /** The cancellers as read on chain by the shell (whether each is a Safe, whether it holds the role); shown in reviews. */
  guardians?: Guardian[];
}

export function topologyOf(deployment: DeploymentRecord, network: string): Topology {
  if (!deployment.timelock || !deployment.safe) throw new Error(`deployments/${network}.json has no timelock or Safe`);
  return {
    network,
    chainId: deployment.chainId,
    timelock: getAddress(deployment.timelock.address),
    safe: getAddress(deployment.safe.address),
    deployer: getAddress(deployment.deployer),
    adminRenounced: deployment.timelock.adminRenounced,
    minDelay: deployment.timelock.minDelay,
    cancellers: deployment.timelock.cancellers.map((a) => getAddress(a)),
    proxies: Object.entries(deployment.proxies).map(([name, p]) => ({
      name,
      address: getAddress(p.address),
      kind: p.kind,
      ...(p.proxyAdmin ? { proxyAdmin: getAddress(p.proxyAdmin) } : {}),
      initialImplementation: getAddress(p.initialImplementation),
    })),
  };
}

/** Every address whose events the watcher reads: the timelock, the proxies and their ProxyAdmins. */
export function watchedAddresses(t: Topology): string[] {
  return [...new Set([t.timelock, ...t.proxies.flatMap((p) => [p.address, ...(p.proxyAdmin ? [p.proxyAdmin] : [])])])];
}

// ---------------------------------------------------------------------------------------------------
// Operations from events

export interface ChainPointRef {
  block: number;
  blockHash: string;
  txHash: string;
}

/** One scheduling of an operation id (an id can be scheduled again after it was cancelled). */
export interface OperationOccurrence {
  operationId: string;
  /** `op:<id>:<scheduling tx>`: stable when a reorg re-includes the same transaction in another block. */
  key: string;
  calls: { target: string; value: string; data: string }[];
  predecessor: string;
  salt: string;
  delay: string;
  scheduled: ChainPointRef;
  executed?: ChainPointRef;
  cancelled?: ChainPointRef;
  /** False when an index of the batch is missing (never on a consistent chain). */
  complete: boolean;
}

const point = (e: WatchedEvent): ChainPointRef => ({ block: e.block, blockHash: e.blockHash, txHash: e.txHash });

/** Group the timelock's operation events, in chain order, into occurrences. */
export function operationOccurrences(events: WatchedEvent[], timelock: string): OperationOccurrence[] {
  const sorted = events.filter((e) => e.address === timelock && OPERATION_EVENTS.has(e.name)).sort(compareEvents);
  const all: OperationOccurrence[] = [];
  const open = new Map<string, OperationOccurrence>();
  const indices = new Map<OperationOccurrence, Map<number, { target: string; value: string; data: string }>>();
  for (const e of sorted) {
    const id = e.args.id!.toLowerCase();
    let occ = open.get(id);
    if (e.name === "CallScheduled") {
      if (!occ || occ.scheduled.txHash !== e.txHash) {
        occ = {
          operationId: id,
          key: `op:${id}:${e.txHash}`,
          calls: [],
          predecessor: e.args.predecessor!,
          salt: ZeroHash,
          delay: e.args.delay!,
          scheduled: point(e),
          complete: true,
        };
        open.set(id, occ);
        all.push(occ);
        indices.set(occ, new Map());
      }
      indices.get(occ)!.set(Number(e.args.index), { target: e.args.target!, value: e.args.value!, data: e.args.data! });
    } else if (e.name === "CallSalt") {
      if (occ && occ.scheduled.txHash === e.txHash) occ.salt = e.args.salt!;
    } else if (e.name === "CallExecuted") {
      if (occ && !occ.executed) {
        occ.executed = point(e);
        open.delete(id);
      }
    } else if (e.name === "Cancelled") {
      if (occ && !occ.cancelled) {
        occ.cancelled = point(e);
        open.delete(id);
      }
    }
  }
  for (const occ of all) {
    const byIndex = indices.get(occ)!;
    const n = Math.max(-1, ...byIndex.keys()) + 1;
    occ.calls = Array.from({ length: n }, (_, i) => byIndex.get(i) ?? { target: ZeroAddress, value: "0", data: "0x" });
    occ.complete = byIndex.size === n;
  }
  return all;
}

export function statusOf(occ: OperationOccurrence): OperationStatus {
  return occ.executed ? "executed" : occ.cancelled ? "cancelled" : "scheduled";
}

// ---------------------------------------------------------------------------------------------------
// Chain facts: what the shell reads from the chain for the core to decide with

export interface TxFacts {
  from: string;
  to: string | null;
  safeExecution?: { safe: string; safeTxHash: string; signers: string[]; nonce?: number; threshold?: number };
}

export interface ChainFacts {
  /** Timestamp of the head block, seconds: "now" on this chain (dev chains move time on their own). */
  now: number;
  /** Block timestamps by block hash. */
  blockTimestamps: Record<string, number>;
  /** By lower-case transaction hash. */
  txs: Record<string, TxFacts>;
  /** bytecodeHash (immutables masked with the recorded contract's references) by lower-case address; null: no code. */
  codeHashes: Record<string, string | null>;
  /** ERC-1967 implementation of a proxy at a block: key `<lower-case proxy>@<block>`. */
  implementations: Record<string, string>;
}

export function emptyFacts(now = 0): ChainFacts {
  return { now, blockTimestamps: {}, txs: {}, codeHashes: {}, implementations: {} };
}

export interface FactsNeeded {
  blocks: { number: number; hash: string }[];
  txs: string[];
  /** Implementations whose code to hash; `contract` names the record's contract (for its immutable references). */
  code: { address: string; contract?: string }[];
  implementations: { proxy: string; block: number }[];
}

/** What `decideOperation` reads from the facts for these occurrences (the shell fetches exactly this). */
export function factsNeededForOperations(occs: OperationOccurrence[], records: ProposalRecord[]): FactsNeeded {
  const need: FactsNeeded = { blocks: [], txs: [], code: [], implementations: [] };
  for (const occ of occs) {
    need.blocks.push({ number: occ.scheduled.block, hash: occ.scheduled.blockHash });
    need.txs.push(occ.scheduled.txHash);
    if (occ.cancelled) need.txs.push(occ.cancelled.txHash);
    if (occ.executed) need.txs.push(occ.executed.txHash);
    const record = recordFor(occ.operationId, records);
    for (const c of occ.calls) {
      const up = decodeUpgradeCall({ target: c.target, value: BigInt(c.value), data: c.data });
      if (!up) continue;
      const op = record?.operations.find((o) => sameAddress(o.proxyAddress, up.proxy) && sameAddress(o.newImplementation, up.implementation));
      need.code.push({ address: up.implementation.toLowerCase(), ...(op ? { contract: op.contract } : {}) });
      need.implementations.push({ proxy: up.proxy.toLowerCase(), block: occ.scheduled.block });
    }
  }
  return need;
}

// ---------------------------------------------------------------------------------------------------
// Decisions

export type PostState = "scheduled" | "executed" | "cancelled" | "alert" | "retracted";

export interface Decision {
  key: string;
  /** The dirty group that produced it: `op:<id>` or `tx:<hash>`. */
  group: string;
  operationId?: string;
  severity: "review" | "alert";
  state: PostState;
  alerts: Alert[];
  title: string;
  block: number;
  /** Unix seconds; scheduled operations only. */
  eta?: number;
  review?: OperationReview;
  alert?: EventAlert;
  /** Hash of everything posted except the clock-dependent time left: equal hash, same post. */
  contentHash: string;
}

export interface Rendered {
  title: string;
  summary: string;
  markdown: string;
  json: Record<string, unknown>;
}

/** Markdown, one-line summary and JSON of a decision, with the time left computed at `now`. */
export function renderDecision(d: Decision, now: number): Rendered {
  if (d.review) {
    const left = d.state === "scheduled" ? timeLeft(d.eta, now) : undefined;
    return { title: d.title, summary: reviewSummary(d.review, left), markdown: renderOperationMarkdown(d.review, left), json: { type: "operation", ...operationReviewJson(d.review, left) } };
  }
  if (d.alert) return { title: d.title, summary: alertSummary(d.alert), markdown: renderAlertMarkdown(d.alert), json: { type: "alert", ...d.alert } };
  throw new Error(`decision ${d.key} has nothing to render`);
}

export function contentHash(value: unknown): string {
  return keccak256(toUtf8Bytes(JSON.stringify(value))).slice(0, 18);
}

function sameAddress(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

export function recordFor(operationId: string, records: ProposalRecord[]): ProposalRecord | undefined {
  return records.find((r) => r.operationId.toLowerCase() === operationId.toLowerCase());
}

const coder = AbiCoder.defaultAbiCoder();

/** The id of the scheduled calls: hashOperationBatch, or hashOperation for a single `schedule`. */
export function idsOfCalls(occ: Pick<OperationOccurrence, "calls" | "predecessor" | "salt">): { batch: string; single?: string } {
  const calls: Call[] = occ.calls.map((c) => ({ target: c.target, value: BigInt(c.value), data: c.data }));
  const batch = hashOperationBatch({ calls, predecessor: occ.predecessor, salt: occ.salt });
  if (calls.length !== 1) return { batch };
  const c = calls[0]!;
  return { batch, single: keccak256(coder.encode(["address", "uint256", "bytes", "bytes32", "bytes32"], [c.target, c.value, c.data, occ.predecessor, occ.salt])) };
}

const ROLE_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ROLES).map(([name, hash]) => [hash.toLowerCase(), name]));
const roleName = (role: string) => ROLE_NAMES[role.toLowerCase()] ?? role;
const extraTimelock = new Interface(["function updateDelay(uint256 newDelay)"]);

function contractName(address: string, t: Topology): string {
  if (sameAddress(address, t.timelock)) return "the timelock";
  const proxy = t.proxies.find((p) => sameAddress(p.address, address));
  if (proxy) return `proxy ${untrusted(proxy.name)}`;
  const admin = t.proxies.find((p) => sameAddress(p.proxyAdmin, address));
  if (admin) return `the ProxyAdmin of ${untrusted(admin.name)}`;
  return address;
}

/** A plain-words description of a call that is not an upgrade. */
function describeOtherCall(c: { target: string; value: string; data: string }, t: Topology): string {
  const value = c.value !== "0" ? ` sending ${c.value} wei` : "";
  if (sameAddress(c.target, t.timelock)) {
    try {
      const parsed = timelockInterface.parseTransaction({ data: c.data }) ?? extraTimelock.parseTransaction({ data: c.data });
      if (parsed?.name === "grantRole" || parsed?.name === "revokeRole") {
        return `**${parsed.name === "grantRole" ? "Grant" : "Revoke"} ${roleName(parsed.args[0] as string)}** ${parsed.name === "grantRole" ? "to" : "from"} \`${getAddress(parsed.args[1] as string)}\` on the timelock${value}.`;
      }
      if (parsed?.name === "updateDelay") return `**Change the timelock's minimum delay** to ${parsed.args[0]}s (${formatDuration(parsed.args[0] as bigint)})${value}.`;
      if (parsed) return `Call \`${parsed.signature}\` on the timelock${value}.`;
    } catch {
      // fall through
    }
  }
  const bytes = (c.data.length - 2) / 2;
  return `Call ${contractName(c.target, t)} \`${c.target}\` with selector \`${c.data.slice(0, 10)}\` (${bytes} bytes of calldata)${value}. Not a proxy upgrade: read the calldata before the ETA.`;
}

export interface DecideContext {
  topology: Topology;
  records: ProposalRecord[];
  facts: ChainFacts;
}

/** The review (or alert) of one scheduling of an operation. */
export function decideOperation(occ: OperationOccurrence, ctx: DecideContext): Decision {
  const { topology: t, facts } = ctx;
  const record = recordFor(occ.operationId, ctx.records);
  const alerts: Alert[] = [];
  const alert = (kind: AlertKind, message: string) => alerts.push({ kind, message });
  const schedTx = facts.txs[occ.scheduled.txHash];

  const calls: ReviewCall[] = occ.calls.map((c, index) => {
    const up = decodeUpgradeCall({ target: c.target, value: BigInt(c.value), data: c.data });
    if (!up) return { index, ...c, description: describeOtherCall(c, t) };
    const known = t.proxies.find((p) => sameAddress(p.address, up.proxy));
    const op = record?.operations.find((o) => sameAddress(o.proxyAddress, up.proxy) && sameAddress(o.newImplementation, up.implementation));
    const oldImplementation = facts.implementations[`${up.proxy.toLowerCase()}@${occ.scheduled.block}`] ?? op?.oldImplementation;
    const name = known?.name ?? op?.proxy;
    const codeHash = facts.codeHashes[up.implementation.toLowerCase()];
    const expected = op ? record?.artifacts[op.proxy]?.bytecodeHash : undefined;
    const upgrade = {
      kind: up.kind,
      proxy: getAddress(up.proxy),
      ...(name ? { proxyName: name } : {}),
      ...(up.kind === "transparent" ? { proxyAdmin: getAddress(c.target) } : {}),
      ...(oldImplementation ? { oldImplementation: getAddress(oldImplementation) } : {}),
      ...(op?.oldContract ? { oldContract: op.oldContract } : {}),
      newImplementation: getAddress(up.implementation),
      ...(op ? { contract: op.contract } : {}),
      initializer: up.initializer,
      ...(codeHash !== undefined ? { bytecodeHash: codeHash } : {}),
      ...(expected ? { expectedBytecodeHash: expected } : {}),
    };
    const via = up.kind === "transparent" ? ` through its ProxyAdmin \`${getAddress(c.target)}\`` : "";
    const from = upgrade.oldImplementation ? ` from \`${upgrade.oldImplementation}\`${upgrade.oldContract ? ` (${untrusted(upgrade.oldContract)})` : ""}` : "";
    const init = up.initializer === "0x" ? ", without calling an initializer" : `, then call \`${up.initializer.slice(0, 10)}\` on it (initializer, ${(up.initializer.length - 2) / 2} bytes: \`${up.initializer}\`)`;
    const who = name ? `**${untrusted(name)}** (${up.kind === "uups" ? "UUPS" : "Transparent"} proxy \`${upgrade.proxy}\`)` : `the ${up.kind === "uups" ? "UUPS" : "Transparent"} proxy \`${upgrade.proxy}\` (**not a governed proxy of this deployment**)`;
    return { index, ...c, upgrade, description: `Upgrade ${who}${via}${from} to \`${upgrade.newImplementation}\`${op ? ` (${untrusted(op.contract)})` : ""}${init}.` };
  });

  // Verification: the scheduled calls hash to the id; the record's calls hash to it; each new implementation holds the recorded bytecode.
  const checks: VerificationCheck[] = [];
  const ids = idsOfCalls(occ);
  const callsOk = occ.complete && (ids.batch === occ.operationId || ids.single === occ.operationId);
  if (record) {
    checks.push({ name: "scheduled calls", ok: callsOk, detail: callsOk ? "the calls in the CallScheduled events hash to the operation id" : `the scheduled calls hash to ${ids.batch}, not to the operation id` });
    const recordCalls = record.operations.map((o) => ({ target: o.call.target, value: BigInt(o.call.value), data: o.call.data }));
    const recomputed = hashOperationBatch({ calls: recordCalls, predecessor: record.predecessor, salt: record.salt });
    const recordOk = recomputed === occ.operationId;
    checks.push({ name: "proposal record", ok: recordOk, detail: recordOk ? `the calls of proposal ${record.id} hash to the on-chain operation id` : `the calls of proposal ${record.id} hash to ${recomputed}, not to the on-chain id` });
    if (!callsOk || !recordOk) alert("operation-mismatch", `proposal ${record.id} claims operation ${occ.operationId}, but ${!recordOk ? "its calls hash to another id" : "the scheduled calls do not hash to it"}: what was scheduled is not what was reviewed.`);
    for (const c of calls) {
      const u = c.upgrade;
      if (!u) continue;
      if (!u.expectedBytecodeHash) {
        checks.push({ name: `bytecode of ${untrusted(u.proxyName ?? u.proxy)}`, ok: false, detail: `the record has no bytecode hash for the implementation ${u.newImplementation}` });
        alert("bytecode-mismatch", `the implementation ${u.newImplementation} of ${untrusted(u.proxyName ?? u.proxy)} is not described by proposal ${record.id}.`);
        continue;
      }
      const ok = u.bytecodeHash === u.expectedBytecodeHash;
      checks.push({
        name: `bytecode of ${untrusted(u.proxyName ?? u.proxy)}`,
        ok,
        detail: ok
          ? `on-chain code of ${u.newImplementation} hashes to ${u.bytecodeHash} as recorded${u.contract ? ` for ${untrusted(u.contract)}` : ""}`
          : `on-chain code of ${u.newImplementation} hashes to ${u.bytecodeHash ?? "nothing (no code)"}, the record says ${u.expectedBytecodeHash}`,
      });
      if (!ok) alert("bytecode-mismatch", `the new implementation ${u.newImplementation} of ${untrusted(u.proxyName ?? u.proxy)} does not hold the bytecode of proposal ${record.id} (${u.bytecodeHash ?? "no code"} instead of ${u.expectedBytecodeHash}).`);
    }
  } else {
    alert(
      "unknown-operation",
      `operation ${occ.operationId} was scheduled on the timelock${schedTx ? ` by \`${schedTx.from}\`` : ""}, but no proposal record in proposals/${t.network}/ has this id: nobody proposed it through the Gatehouse pipeline. Unless it is expected, the guardian should cancel it before the ETA.`,
    );
  }
  for (const c of calls) {
    if (c.upgrade && !t.proxies.some((p) => sameAddress(p.address, c.upgrade!.proxy)) && record) {
      alert("operation-mismatch", `call ${c.index + 1} upgrades ${c.upgrade.proxy}, which is not a governed proxy of deployments/${t.network}.json.`);
    }
  }

  const scheduledAt = facts.blockTimestamps[occ.scheduled.blockHash];
  const eta = scheduledAt !== undefined ? scheduledAt + Number(occ.delay) : undefined;
  const exec = schedTx?.safeExecution;
  // Every Safe transaction the record ever proposed for scheduling (a cancelled round keeps its own).
  const scheduleTxs = record?.safeTransactions.filter((s) => s.purpose === "schedule") ?? [];
  const recordSafeTx = (exec && scheduleTxs.find((s) => sameAddress(s.safeTxHash, exec.safeTxHash))) || scheduleTxs.at(-1);
  const safeTransaction: OperationReview["safeTransaction"] = exec
    ? {
        safe: exec.safe,
        safeTxHash: exec.safeTxHash,
        ...(recordSafeTx && sameAddress(recordSafeTx.safeTxHash, exec.safeTxHash) ? { domainHash: recordSafeTx.domainHash, messageHash: recordSafeTx.messageHash, nonce: recordSafeTx.nonce } : exec.nonce !== undefined ? { nonce: exec.nonce } : {}),
        signers: exec.signers,
        ...(exec.threshold !== undefined ? { threshold: exec.threshold } : {}),
        ...(recordSafeTx ? { matchesRecord: sameAddress(recordSafeTx.safeTxHash, exec.safeTxHash) } : {}),
      }
    : undefined;

  // A guardian Safe is known from the record's cancel path (propose read its code); an EOA guardian
  // has no Safe to import the Transaction Builder file into.
  const guardianSafe = record?.cancel?.guardianSafeTx?.safe;
  const status = statusOf(occ);
  const severity = alerts.length > 0 ? "alert" : "review";
  const base = {
    key: occ.key,
    network: t.network,
    chainId: t.chainId,
    timelock: t.timelock,
    operationId: occ.operationId,
    status,
    severity,
    alerts,
    calls,
  } as const;
  const review: OperationReview = {
    ...base,
    title: reviewTitle(base),
    predecessor: occ.predecessor,
    salt: occ.salt,
    delaySeconds: occ.delay,
    scheduled: { ...occ.scheduled, ...(scheduledAt !== undefined ? { timestamp: scheduledAt } : {}), ...(schedTx ? { from: schedTx.from } : {}) },
    ...(eta !== undefined ? { eta: { timestamp: eta, iso: new Date(eta * 1000).toISOString() } } : {}),
    ...(occ.executed ? { executed: { ...occ.executed, ...(facts.txs[occ.executed.txHash] ? { from: facts.txs[occ.executed.txHash]!.from } : {}) } } : {}),
    ...(occ.cancelled ? { cancelled: { ...occ.cancelled, ...(facts.txs[occ.cancelled.txHash] ? { from: facts.txs[occ.cancelled.txHash]!.from } : {}) } } : {}),
    ...(record ? { proposal: { id: record.id, commit: record.commit, createdAt: record.createdAt, rollbackOperationId: record.rollback.operationId } } : {}),
    storageLayoutDiff: record?.storageLayoutDiff ?? {},
    ...(safeTransaction ? { safeTransaction } : {}),
    verification: { status: !record ? "unverified" : checks.every((c) => c.ok) ? "verified" : "failed", checks },
    cancel: cancelPath({
      network: t.network,
      chainId: t.chainId,
      timelock: t.timelock,
      operationId: occ.operationId,
      guardianSafe,
      ...(t.guardians ? { guardians: t.guardians } : {}),
      createdAt: (scheduledAt ?? 0) * 1000,
      what: calls.map((c) => (c.upgrade ? `${c.upgrade.proxyName ?? c.upgrade.proxy} -> ${c.upgrade.contract ?? c.upgrade.newImplementation}` : c.target)).join(", "),
    }),
  };
  return {
    key: occ.key,
    group: `op:${occ.operationId}`,
    operationId: occ.operationId,
    severity,
    state: status,
    alerts,
    title: review.title,
    block: occ.scheduled.block,
    ...(eta !== undefined ? { eta } : {}),
    review,
    contentHash: contentHash(review),
  };
}

/**
 * The alerts of one transaction: governance events not explained by the deployment record nor by a
 * timelock operation upgrading exactly that proxy to exactly that implementation.
 */
export function decideTransaction(txHash: string, txEvents: WatchedEvent[], ctx: DecideContext): Decision[] {
  const { topology: t } = ctx;
  const events = [...txEvents].sort(compareEvents);
  const executed = events.filter((e) => e.name === "CallExecuted" && e.address === t.timelock);
  const executedUpgrades = executed.flatMap((e) => {
    const up = decodeUpgradeCall({ target: e.args.target!, value: BigInt(e.args.value!), data: e.args.data! });
    return up ? [{ proxy: getAddress(up.proxy), implementation: getAddress(up.implementation), id: e.args.id! }] : [];
  });
  const viaOperation = executed[0]?.args.id;
  const others = events.filter((e) => !(e.address === t.timelock && OPERATION_EVENTS.has(e.name)));
  const from = ctx.facts.txs[txHash]?.from;
  const initialization = (address: string) =>
    events.some((e) => e.address === address && ((e.name === "AdminChanged" && e.args.previousAdmin === ZeroAddress) || (e.name === "OwnershipTransferred" && e.args.previousOwner === ZeroAddress)));
  const out: Decision[] = [];
  others.forEach((e, ordinal) => {
    const where = contractName(e.address, t);
    const proxy = t.proxies.find((p) => p.address === e.address);
    let verdict: { kind: AlertKind; title: string; message: string; remedy: string } | undefined;
    switch (e.name) {
      case "MinDelayChange": {
        const constructor = e.address === t.timelock && e.args.oldDuration === "0" && Number(e.args.newDuration) === t.minDelay;
        if (!constructor) {
          verdict = {
            kind: "delay-change",
            title: `Timelock delay changed from ${formatDuration(BigInt(e.args.oldDuration!))} to ${formatDuration(BigInt(e.args.newDuration!))}`,
            message: `the minimum delay of ${where} changed from ${e.args.oldDuration}s to ${e.args.newDuration}s${viaOperation ? ` by timelock operation ${viaOperation}` : ""}; the deployment record says ${t.minDelay}s.`,
            remedy: "check that this delay change was intended; update the policy and deployments record, or schedule updateDelay back through the Safe.",
          };
        }
        break;
      }
      case "RoleGranted":
      case "RoleRevoked":
      case "RoleAdminChanged": {
        const setup = e.address === t.timelock && t.adminRenounced && e.args.sender === t.deployer;
        if (!setup) {
          const what =
            e.name === "RoleAdminChanged"
              ? `the admin role of ${roleName(e.args.role!)} changed from ${roleName(e.args.previousAdminRole!)} to ${roleName(e.args.newAdminRole!)}`
              : `${roleName(e.args.role!)} was ${e.name === "RoleGranted" ? "granted to" : "revoked from"} ${e.args.account} by ${e.args.sender}`;
          verdict = {
            kind: "role-change",
            title: `Role change on ${where}: ${e.name === "RoleAdminChanged" ? `${roleName(e.args.role!)} admin changed` : `${roleName(e.args.role!)} ${e.name === "RoleGranted" ? "granted to" : "revoked from"} ${e.args.account}`}`,
            message: `${what} on ${where}${viaOperation ? ` (timelock operation ${viaOperation})` : ""}.`,
            remedy: "run `gatehouse doctor` to compare the roles with the policy; if the change was not intended, revert it through the timelock.",
          };
        }
        break;
      }
      case "Upgraded": {
        const impl = getAddress(e.args.implementation!);
        const viaTimelock = executedUpgrades.some((u) => u.proxy === e.address && u.implementation === impl);
        const deployment = proxy !== undefined && proxy.initialImplementation === impl && initialization(e.address);
        if (!viaTimelock && !deployment) {
          verdict = {
            kind: "upgrade-outside-timelock",
            title: `Upgrade outside the timelock: ${proxy ? untrusted(proxy.name) : e.address} now runs ${impl}`,
            message: `${where} was upgraded to ${impl}${from ? ` in a transaction sent by ${from}` : ""}, and no timelock operation executed that upgrade: the upgrade bypassed governance.`,
            remedy: "treat the upgrade authority as compromised: check who controls the proxy's admin or owner and what the new implementation does.",
          };
        }
        break;
      }
      case "BeaconUpgraded":
        verdict = {
          kind: "upgrade-outside-timelock",
          title: `Beacon changed on ${where}`,
          message: `${where} now points at beacon ${e.args.beacon}.`,
          remedy: "check who changed the beacon and what its implementation is.",
        };
        break;
      case "AdminChanged": {
        const expected = e.args.previousAdmin === ZeroAddress && proxy?.proxyAdmin !== undefined && e.args.newAdmin === proxy.proxyAdmin;
        if (!expected) {
          verdict = {
            kind: "admin-change",
            title: `Proxy admin changed on ${where}`,
            message: `the ERC-1967 admin of ${where} changed from ${e.args.previousAdmin} to ${e.args.newAdmin}.`,
            remedy: "the new admin can upgrade the proxy without the timelock: verify it or revert the change.",
          };
        }
        break;
      }
      case "OwnershipTransferred":
      case "OwnershipTransferStarted": {
        const expected = e.name === "OwnershipTransferred" && e.args.previousOwner === ZeroAddress && e.args.newOwner === t.timelock;
        if (!expected) {
          verdict = {
            kind: "ownership-change",
            title: `Ownership ${e.name === "OwnershipTransferStarted" ? "transfer started" : "transferred"} on ${where}: ${e.args.newOwner}`,
            message: `the owner of ${where} ${e.name === "OwnershipTransferStarted" ? "is being changed" : "changed"} from ${e.args.previousOwner} to ${e.args.newOwner}${viaOperation ? ` (timelock operation ${viaOperation})` : ""}${sameAddress(e.args.newOwner, t.timelock) ? "" : ": the timelock is no longer its upgrade authority"}.`,
            remedy: "if this was not a governed decision, the new owner can upgrade without the timelock: act now.",
          };
        }
        break;
      }
      default:
        break;
    }
    if (!verdict) return;
    const key = `alert:${txHash}:${ordinal}`;
    const alert: EventAlert = {
      key,
      network: t.network,
      chainId: t.chainId,
      kind: verdict.kind,
      status: "alert",
      title: `ALERT: ${verdict.title}`,
      message: verdict.message,
      contract: where,
      event: { name: e.name, address: e.address, block: e.block, blockHash: e.blockHash, txHash: e.txHash, logIndex: e.logIndex, args: e.args },
      ...(from ? { from } : {}),
      ...(viaOperation ? { viaOperation } : {}),
      remedy: verdict.remedy,
    };
    out.push({
      key,
      group: `tx:${txHash}`,
      severity: "alert",
      state: "alert",
      alerts: [{ kind: verdict.kind, message: verdict.message }],
      title: alert.title,
      block: e.block,
      alert,
      contentHash: contentHash(alert),
    });
  });
  return out;
}

/** What a post becomes when the events behind it left the canonical chain. */
export function retractDecision(previous: Decision): Decision {
  if (previous.review) {
    const review: OperationReview = { ...previous.review, status: "retracted" };
    review.title = reviewTitle(review);
    return { ...previous, state: "retracted", title: review.title, review, contentHash: contentHash(review) };
  }
  const alert: EventAlert = { ...previous.alert!, status: "retracted", title: `RETRACTED ${previous.alert!.title}` };
  return { ...previous, state: "retracted", title: alert.title, alert, contentHash: contentHash(alert) };
}
