import { decodeGovernanceCall, governanceVerdict, pauseInterface, type GovernanceRules } from "../proposal/governance.ts";
import { AbiCoder, Interface, ZeroAddress, ZeroHash, formatEther, getAddress, keccak256, toUtf8Bytes } from "ethers";
import type { ImmutableReferences } from "../plan/bytecode.ts";
import { bytecodeHash } from "../plan/bytecode.ts";
import { checkImmutableValues, type ImmutableNames } from "../build/immutables.ts";
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
  type OperationSimulation,
  type OperationStatus,
  type ReviewCall,
  type VerificationCheck,
} from "../review/operation.ts";
import { untrusted } from "../review/untrusted.ts";
import { operationIdOf, proposalWords } from "../proposal/derive.ts";
import { ROLES, decodeUpgradeCall, formatDuration, hashOperationBatch, timelockInterface, type Call } from "../timelock/calls.ts";
import { OPERATION_EVENTS, SAFE_CONFIG_EVENTS, SAFE_MODULE_EVENTS, compareEvents, type WatchedEvent } from "./events.ts";
import type { SafeExecution } from "./safe-signers.ts";

/**
 * The watcher's functional core: canonical events + proposal records + chain facts → the posts that
 * should exist, each with a severity. No provider, no file system, no clock: everything is passed in.
 *
 * A proposal record is a claim (anyone who can merge can write one); the chain and the protected branch
 * are the truth. An operation is a review only when every check below holds, and each failed check is an
 * alert that names it:
 * - every call upgrades a governed proxy (deployment record and policy) through its real upgrade path
 *   (UUPS: the proxy; Transparent: the ProxyAdmin in its EIP-1967 admin slot at the scheduling block),
 *   with value 0, to code equal to the watcher's own build of the policy's target at a protected commit,
 *   with an initializer only when the policy allows that function; for a rollback record, the reference is
 *   instead the build of the contract the rolled-back proposal replaced, at that proposal's commit, with
 *   that proposal's operation Done, the proxy running what it installed, and its Upgraded events showing the
 *   return target right before that (the records' old implementation is a claim; no initializer);
 * - or, for a governance record, every call is a governance change that keeps the policy's topology,
 *   judged from the decoded calldata (src/proposal/governance.ts: delay, timelock roles, unpause);
 * - the Safe scheduled it with execTransaction in the same transaction, that Safe transaction is the
 *   record's, and its signatures recover to owners (at that block) reaching the threshold;
 * - the record's calls and the scheduled calls hash to the operation id; the predecessor is zero or an
 *   operation of this timelock.
 * Events that establish exactly the recorded deployment (the constructor's roles sent by the deployer
 * before it renounced, proxies created at their initial implementation, the Safe's setup) are neither.
 */

export interface GovernedTarget {
  /** The contract the policy says the proxy should run: the only build a new implementation may equal. */
  contract: string;
  /** Initializer functions the policy allows in an upgrade of this proxy (by name). */
  upgradeInitializers: string[];
}

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
  /** The policy's governed contracts by proxy name; a proxy missing here is not governed. */
  governed: Record<string, GovernedTarget>;
  /** EXECUTOR_ROLE holders the deployment set up (address(0): open); for governance-change rules. */
  executors?: string[];
  /** The policy's rules.minDelaySeconds: an updateDelay below it is an alert. */
  minDelaySeconds?: number;
  /** The policy's role holders: what a governance change may grant (none known: no grant is consistent). */
  policyRoles?: { cancellers: string[]; executors: string[] };
  /** The cancellers as read on chain by the shell (whether each is a Safe, whether it holds the role); shown in reviews. */
  guardians?: Guardian[];
}

export interface PolicyTargets {
  contracts: { name: string; contract: string; upgradeInitializers?: string[] }[];
  rules?: { minDelaySeconds: number };
  /** The policy's CANCELLER_ROLE and EXECUTOR_ROLE holders, resolved (pipeline/govern.ts policyRoleHolders). */
  roleHolders?: { cancellers: string[]; executors: string[] };
}

export function topologyOf(deployment: DeploymentRecord, network: string, policy?: PolicyTargets): Topology {
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
    executors: deployment.timelock.executors.map((a) => getAddress(a)),
    ...(policy?.rules ? { minDelaySeconds: policy.rules.minDelaySeconds } : {}),
    ...(policy?.roleHolders ? { policyRoles: { cancellers: policy.roleHolders.cancellers.map((a) => getAddress(a)), executors: policy.roleHolders.executors.map((a) => getAddress(a)) } } : {}),
    proxies: Object.entries(deployment.proxies).map(([name, p]) => ({
      name,
      address: getAddress(p.address),
      kind: p.kind,
      ...(p.proxyAdmin ? { proxyAdmin: getAddress(p.proxyAdmin) } : {}),
      initialImplementation: getAddress(p.initialImplementation),
    })),
    governed: Object.fromEntries((policy?.contracts ?? []).map((c) => [c.name, { contract: c.contract, upgradeInitializers: c.upgradeInitializers ?? [] }])),
  };
}

/** Every address whose events the watcher reads: the timelock, the Safe, the proxies and their ProxyAdmins. */
export function watchedAddresses(t: Topology): string[] {
  return [...new Set([t.timelock, t.safe, ...t.proxies.flatMap((p) => [p.address, ...(p.proxyAdmin ? [p.proxyAdmin] : [])])])];
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
  /** Earlier schedulings of the same id, oldest first (an id can be scheduled again once cancelled). */
  history: { scheduled: ChainPointRef; cancelled?: ChainPointRef; executed?: ChainPointRef }[];
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
          history: all.filter((o) => o.operationId === id).map((o) => ({ scheduled: o.scheduled, ...(o.cancelled ? { cancelled: o.cancelled } : {}), ...(o.executed ? { executed: o.executed } : {}) })),
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
// Chain facts: what the shell reads from the chain (and builds from the protected branch) for the core

export interface TxFacts {
  from: string;
  to: string | null;
  safeExecution?: SafeExecution;
}

/** The policy's target contract built at a protected commit, or why there is no such build. */
export type BuildFact =
  | { ok: true; bytecodeHash: string; immutableReferences?: ImmutableReferences; immutableNames?: ImmutableNames; abi?: readonly unknown[] }
  | { ok: false; reason: string };

export interface ChainFacts {
  /** Timestamp of the head block, seconds: "now" on this chain (dev chains move time on their own). */
  now: number;
  /** Block timestamps by block hash. */
  blockTimestamps: Record<string, number>;
  /** By lower-case transaction hash. */
  txs: Record<string, TxFacts>;
  /** Runtime code by lower-case address; null: no code. */
  code: Record<string, string | null>;
  /** ERC-1967 implementation of a proxy at a block: key `<lower-case proxy>@<block>`. */
  implementations: Record<string, string>;
  /** ERC-1967 admin slot of a proxy at a block: key `<lower-case proxy>@<block>`. */
  admins: Record<string, string>;
  /** The watcher's own builds: key `<commit>:<contract>`. */
  builds: Record<string, BuildFact>;
  /** The Safe's owners and threshold as they were when a block began: key = block number. */
  safeOwners: Record<string, { owners: string[]; threshold: number }>;
  /** Whether an id is an operation of the timelock (pending, ready or done) at a block: key `<id>@<block>`. */
  operations: Record<string, boolean>;
  /** Whether an id is an executed (Done) operation of the timelock at a block: key `<id>@<block>` (rollbacks). */
  operationsDone?: Record<string, boolean>;
  /**
   * A proxy's last two implementations as of a block, from its Upgraded events: key `<proxy>@<block>`;
   * null: fewer than two found. What a rollback may return to is the chain's `previous`, never a record's word.
   */
  upgradeHistory?: Record<string, { current: string; previous: string } | null>;
}

export function emptyFacts(now = 0): ChainFacts {
  return { now, blockTimestamps: {}, txs: {}, code: {}, implementations: {}, admins: {}, builds: {}, safeOwners: {}, operations: {} };
}

export interface FactsNeeded {
  blocks: { number: number; hash: string }[];
  txs: string[];
  /** Addresses whose runtime code to read. */
  code: { address: string }[];
  implementations: { proxy: string; block: number }[];
  admins?: { proxy: string; block: number }[];
  builds?: { commit: string; contract: string }[];
  safeOwners?: { block: number }[];
  operations?: { id: string; block: number }[];
  operationsDone?: { id: string; block: number }[];
  upgradeHistory?: { proxy: string; block: number }[];
}

/**
 * A rollback record's reference for one upgrade call: the contract the proposal it names replaced at exactly
 * this implementation, built at that proposal's commit. Only when that proposal is in the records, its calls
 * hash to the operation the rollback names, and the rollback records its commit; else undefined (and the
 * call is judged against the policy's target, which a rollback does not meet: an alert).
 */
export function rollbackTargetOf(record: ProposalRecord | undefined, records: ProposalRecord[], up: { proxy: string; implementation: string }): { contract: string; earlierId: string; earlier: ProposalRecord; installed: string } | undefined {
  if (!record || record.kind !== "rollback" || !record.rollbackOf) return undefined;
  const earlier = records.find((r) => r.id === record.rollbackOf!.proposal);
  if (!earlier || !earlier.commit || record.commit !== earlier.commit) return undefined;
  const earlierId = operationIdOf(earlier);
  if (earlierId !== record.rollbackOf.operationId) return undefined;
  const op = earlier.operations.find((o) => sameAddress(o.proxyAddress, up.proxy) && sameAddress(o.oldImplementation, up.implementation));
  if (!op?.oldContract) return undefined;
  return { contract: op.oldContract, earlierId, earlier, installed: op.newImplementation };
}

/** What `decideOperation` reads from the facts for these occurrences (the shell fetches exactly this). */
export function factsNeededForOperations(occs: OperationOccurrence[], records: ProposalRecord[], topology?: Topology): FactsNeeded {
  const need: Required<FactsNeeded> = { blocks: [], txs: [], code: [], implementations: [], admins: [], builds: [], safeOwners: [], operations: [], operationsDone: [], upgradeHistory: [] };
  for (const occ of occs) {
    const block = occ.scheduled.block;
    need.blocks.push({ number: block, hash: occ.scheduled.blockHash });
    need.txs.push(occ.scheduled.txHash);
    if (occ.cancelled) need.txs.push(occ.cancelled.txHash);
    if (occ.executed) need.txs.push(occ.executed.txHash);
    need.safeOwners.push({ block });
    if (occ.predecessor !== ZeroHash) need.operations.push({ id: occ.predecessor.toLowerCase(), block });
    const record = recordFor(occ.operationId, records);
    for (const c of occ.calls) {
      const up = decodeUpgradeCall({ target: c.target, value: BigInt(c.value), data: c.data });
      if (!up) continue;
      need.code.push({ address: up.implementation.toLowerCase() });
      need.implementations.push({ proxy: up.proxy.toLowerCase(), block });
      if (up.kind === "transparent") need.admins.push({ proxy: up.proxy.toLowerCase(), block });
      const proxy = topology?.proxies.find((p) => sameAddress(p.address, up.proxy));
      const rollback = rollbackTargetOf(record, records, up);
      if (rollback) {
        need.operationsDone.push({ id: rollback.earlierId.toLowerCase(), block });
        need.upgradeHistory.push({ proxy: up.proxy.toLowerCase(), block });
      }
      const target = proxy ? (rollback ? { contract: rollback.contract } : topology!.governed[proxy.name]) : undefined;
      if (target && record?.commit) need.builds.push({ commit: record.commit, contract: target.contract });
    }
  }
  return need;
}

// ---------------------------------------------------------------------------------------------------
// Decisions

/** `resolved`: a monitor breach (an alert post) that has cleared. */
export type PostState = "scheduled" | "executed" | "cancelled" | "alert" | "retracted" | "resolved";

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

/** How people know a contract: "the timelock", "proxy vault", … ; an unknown one as `0x…`. */
function knownAs(address: string, t: Topology): string {
  const name = contractName(address, t);
  return name === address ? `\`${getAddress(address)}\`` : `${name} \`${getAddress(address)}\``;
}

function contractName(address: string, t: Topology): string {
  if (sameAddress(address, t.timelock)) return "the timelock";
  if (sameAddress(address, t.safe)) return "the Safe";
  const proxy = t.proxies.find((p) => sameAddress(p.address, address));
  if (proxy) return `proxy ${untrusted(proxy.name)}`;
  const admin = t.proxies.find((p) => sameAddress(p.proxyAdmin, address));
  if (admin) return `the ProxyAdmin of ${untrusted(admin.name)}`;
  return address;
}

const ethAmount = (wei: string) => `${formatEther(BigInt(wei))} ETH (${wei} wei)`;

/** A plain-words description of a call that is not an upgrade. */
/**
 * The governance rules (src/proposal/governance.ts) as the topology knows them: deployment addresses, the
 * policy's role holders and minimum delay. The deployment record's canceller and executor lists are claims:
 * without the policy's holders no grant is consistent.
 */
export function governanceRulesOf(t: Topology): GovernanceRules {
  return {
    timelock: t.timelock,
    safe: t.safe,
    cancellers: t.policyRoles?.cancellers ?? [],
    executors: t.policyRoles?.executors ?? [],
    ...(t.minDelaySeconds !== undefined ? { minDelaySeconds: t.minDelaySeconds } : {}),
    proxies: t.proxies.filter((p) => t.governed[p.name]).map((p) => ({ name: p.name, address: p.address })),
  };
}

export function describeOtherCall(c: { target: string; value: string; data: string }, t: Topology): string {
  const value = c.value !== "0" ? `, sending **${ethAmount(c.value)}**` : "";
  if (sameAddress(c.target, t.timelock)) {
    try {
      const parsed = timelockInterface.parseTransaction({ data: c.data }) ?? extraTimelock.parseTransaction({ data: c.data });
      if (parsed?.name === "grantRole" || parsed?.name === "revokeRole") {
        return `**${parsed.name === "grantRole" ? "Grant" : "Revoke"} ${roleName(parsed.args[0] as string)}** ${parsed.name === "grantRole" ? "to" : "from"} \`${getAddress(parsed.args[1] as string)}\` on the timelock (a call of the timelock to itself)${value}.`;
      }
      if (parsed?.name === "updateDelay") return `**Change the timelock's minimum delay** to ${parsed.args[0]}s (${formatDuration(parsed.args[0] as bigint)}) (a call of the timelock to itself)${value}.`;
      if (parsed) return `Call \`${parsed.signature}\` on the timelock (a call of the timelock to itself)${value}.`;
    } catch {
      // fall through
    }
  }
  if (c.data === "0x") return `**Send ${ethAmount(c.value)}** to ${knownAs(c.target, t)}, with no calldata.`;
  if (c.data === pauseInterface.encodeFunctionData("unpause", [])) return `**Unpause** ${knownAs(c.target, t)} (unpause())${value}.`;
  const bytes = (c.data.length - 2) / 2;
  return `Call ${knownAs(c.target, t)} with selector \`${c.data.slice(0, 10)}\` (${bytes} bytes of calldata)${value}. Not a proxy upgrade: read the calldata before the ETA.`;
}

/** `transferOwnership(newOwner=0x…)` from the build's ABI, or undefined when the selector is not in it. */
function decodeInitializer(data: string, abi: readonly unknown[] | undefined): { name: string; text: string } | undefined {
  if (!abi) return undefined;
  try {
    const parsed = new Interface(abi as never).parseTransaction({ data });
    if (!parsed) return undefined;
    const args = parsed.fragment.inputs.map((input, i) => `${input.name || `arg${i}`}=${argText(parsed.args[i])}`);
    return { name: parsed.name, text: `${parsed.name}(${args.join(", ")})` };
  } catch {
    return undefined;
  }
}

function argText(v: unknown): string {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return `[${v.map(argText).join(", ")}]`;
  return String(v);
}

const scheduleOf = (data: string) => {
  try {
    return timelockInterface.parseTransaction({ data }) ?? undefined;
  } catch {
    return undefined;
  }
};

/** The operation id a schedule/scheduleBatch calldata schedules, or undefined. */
function scheduledIdOf(data: string): string | undefined {
  const parsed = scheduleOf(data);
  if (parsed?.name === "scheduleBatch") {
    const [targets, values, payloads, predecessor, salt] = parsed.args as unknown as [string[], bigint[], string[], string, string];
    return hashOperationBatch({ calls: targets.map((target, i) => ({ target, value: values[i]!, data: payloads[i]! })), predecessor, salt });
  }
  if (parsed?.name === "schedule") {
    const [target, value, data, predecessor, salt] = parsed.args as unknown as [string, bigint, string, string, string];
    return keccak256(coder.encode(["address", "uint256", "bytes", "bytes32", "bytes32"], [target, value, data, predecessor, salt]));
  }
  return undefined;
}

export interface DecideContext {
  topology: Topology;
  records: ProposalRecord[];
  facts: ChainFacts;
  /** The watcher's latest re-simulation of each pending occurrence, by occurrence key (plain data). */
  simulations?: Record<string, OperationSimulation>;
}

/**
 * Which simulation a pending operation is due for at chain time `now`: the one when it is first seen
 * scheduled, and another once the ETA is at most `beforeEtaSeconds` away (a short delay: only that one).
 */
export function simulationPhase(eta: number | undefined, now: number, beforeEtaSeconds: number): OperationSimulation["phase"] {
  return eta !== undefined && now >= eta - beforeEtaSeconds ? "near-eta" : "scheduled";
}

/** The alerts a re-simulation raises: a reverting step, a failed probe, a finding, effects that left the packet. */
export function simulationAlerts(s: OperationSimulation): Alert[] {
  if (s.status !== "simulated") return [];
  const at = `on a fork of block ${s.forkBlock ?? "?"}`;
  const out: Alert[] = [];
  for (const st of s.steps ?? []) {
    if (!st.ok) out.push({ kind: "simulation-reverted", check: "simulation", message: `simulated ${at}, ${untrusted(st.name)} reverts: ${untrusted(st.revert ?? "no reason")}. Executed as scheduled, the operation would fail.` });
  }
  for (const p of s.probes ?? []) {
    if (!p.ok) out.push({ kind: "probe-failed", check: `probe: ${untrusted(p.name)}`, message: `after the simulated upgrade ${at}, the probe "${untrusted(p.name)}" fails: ${untrusted(p.detail)}` });
  }
  for (const f of s.findings ?? []) {
    // Reverts and probes are alerted above, each by name.
    if (f.kind === "revert" || f.kind === "probe") continue;
    out.push({ kind: "simulation-finding", check: "simulation", message: `simulated ${at}: ${untrusted(f.message)}` });
  }
  const p = s.packet;
  if (p?.status === "tampered") out.push({ kind: "packet-tampered", check: "signer packet", message: `the signer packet ${untrusted(p.file)} is not what the signers pinned: ${untrusted(p.detail ?? "")}` });
  if (p?.status === "differs") {
    out.push({
      kind: "effects-changed",
      check: "signer packet",
      message: `the world changed under the proposal: simulated ${at}, its effects differ from the signer packet ${untrusted(p.file)}: ${(p.differences ?? []).map((d) => untrusted(d)).join("; ")}`,
    });
  }
  return out;
}

/** The review (or alert) of one scheduling of an operation. */
export function decideOperation(occ: OperationOccurrence, ctx: DecideContext): Decision {
  const { topology: t, facts } = ctx;
  const record = recordFor(occ.operationId, ctx.records);
  const alerts: Alert[] = [];
  const checks: VerificationCheck[] = [];
  /** One named check; a failed one is an alert of `kind` that names the check. */
  const check = (name: string, ok: boolean, detail: string, kind: AlertKind) => {
    checks.push({ name, ok, detail });
    if (!ok) alerts.push({ kind, check: name, message: detail });
  };
  const block = occ.scheduled.block;
  const schedTx = facts.txs[occ.scheduled.txHash];

  // 1. What was scheduled is what the record describes.
  const ids = idsOfCalls(occ);
  const callsOk = occ.complete && (ids.batch === occ.operationId || ids.single === occ.operationId);
  if (record) {
    check("scheduled calls", callsOk, callsOk ? "the calls in the CallScheduled events hash to the operation id" : `the scheduled calls hash to ${ids.batch}, not to the operation id: what was scheduled is not what was reviewed`, "operation-mismatch");
    const recomputed = operationIdOf(record);
    const recordOk = recomputed === occ.operationId;
    check("proposal record", recordOk, recordOk ? `the calls of proposal ${record.id} hash to the on-chain operation id` : `the calls of proposal ${record.id} hash to ${recomputed}, not to the on-chain id ${occ.operationId}`, "operation-mismatch");
  } else {
    alerts.push({
      kind: "unknown-operation",
      check: "proposal record",
      message: `operation ${occ.operationId} was scheduled on the timelock${schedTx ? ` by \`${schedTx.from}\`` : ""}, but no proposal record in proposals/${t.network}/ has this id: nobody proposed it through the Gatehouse pipeline. Unless it is expected, the guardian should cancel it before it executes.`,
    });
  }

  // 2. The calls: each an upgrade of a governed proxy, through its real path, to the watcher's own build.
  const calls: ReviewCall[] = occ.calls.map((c, index) => {
    const n = `call ${index + 1}`;
    if (c.value !== "0") check(`${n}: value`, false, `${n} sends ${ethAmount(c.value)} to \`${getAddress(c.target)}\`; an upgrade sends nothing.`, "value-transfer");
    const up = decodeUpgradeCall({ target: c.target, value: BigInt(c.value), data: c.data });
    // In a governance record, a governance change (delay, timelock role, unpause) is judged by its own rules,
    // from the decoded calldata; anywhere else such a call stays "not an upgrade", and an upgrade has no place in it.
    const governanceRecord = record !== undefined && record.kind === "governance";
    if (governanceRecord && up) check(`${n}: governance change`, false, `${n} upgrades \`${getAddress(up.proxy)}\`, but proposal ${record!.id} is a governance change: an upgrade is staged with \`gatehouse stage\`.`, "operation-mismatch");
    const gov = up || !governanceRecord ? undefined : decodeGovernanceCall(c, governanceRulesOf(t));
    if (gov) {
      const v = governanceVerdict(gov, governanceRulesOf(t), c.value);
      check(`${n}: governance change`, v.ok, v.detail, v.kind);
      return { index, ...c, description: describeOtherCall(c, t), governance: { action: gov.action, text: v.detail, policyConsistent: v.ok } };
    }
    if (!up) {
      const description = describeOtherCall(c, t);
      check(`${n}: governed upgrade`, false, `${n} is not a proxy upgrade: ${description}`, "not-an-upgrade");
      return { index, ...c, description };
    }
    const known = t.proxies.find((p) => sameAddress(p.address, up.proxy));
    // A rollback's reference is the contract the rolled-back proposal replaced (no initializer allowed).
    const rollback = known && t.governed[known.name] ? rollbackTargetOf(record, ctx.records, up) : undefined;
    const target = known ? (rollback ? { contract: rollback.contract, upgradeInitializers: [] } : t.governed[known.name]) : undefined;
    const op = record?.operations.find((o) => sameAddress(o.proxyAddress, up.proxy) && sameAddress(o.newImplementation, up.implementation));
    const oldImplementation = facts.implementations[`${up.proxy.toLowerCase()}@${block}`] ?? op?.oldImplementation;
    const name = known?.name;
    const label = name ? untrusted(name) : getAddress(up.proxy);
    const kindWord = up.kind === "uups" ? "UUPS" : "Transparent";
    const build = target && record?.commit ? facts.builds[`${record.commit}:${target.contract}`] : undefined;
    const code = facts.code[up.implementation.toLowerCase()];
    const onchainHash = code === undefined ? undefined : code === null ? null : bytecodeHash(code, build?.ok ? build.immutableReferences : undefined);

    // Governed: in the deployment record and in the policy.
    if (!known || !target) {
      check(
        `${n}: governed upgrade`,
        false,
        `${n} upgrades \`${getAddress(up.proxy)}\`, which is ${!known ? `not a proxy of deployments/${t.network}.json` : `not governed by the policy (no contracts[] entry named '${untrusted(known.name)}')`}.`,
        "ungoverned-proxy",
      );
    } else {
      check(`${n}: governed upgrade`, true, `${n} upgrades ${untrusted(known.name)}, a ${known.kind === "uups" ? "UUPS" : "Transparent"} proxy the policy governs (target ${target.contract})`, "ungoverned-proxy");
    }

    if (rollback) {
      // Proven from the chain: the rolled-back operation executed, and the proxy ran what it installed when the rollback was scheduled.
      const done = facts.operationsDone?.[`${rollback.earlierId.toLowerCase()}@${block}`];
      const running = facts.implementations[`${up.proxy.toLowerCase()}@${block}`];
      // The records' oldImplementation is a claim (it is not part of the rolled-back operation's calls): the
      // proxy's own Upgraded history must show the return target right before what it runs now.
      const history = facts.upgradeHistory?.[`${up.proxy.toLowerCase()}@${block}`];
      const historyOk = history != null && sameAddress(history.current, rollback.installed) && sameAddress(history.previous, up.implementation);
      const ok = done === true && running !== undefined && sameAddress(running, rollback.installed) && historyOk;
      check(
        `${n}: rollback`,
        ok,
        ok
          ? `${n} returns ${untrusted(known!.name)} to \`${getAddress(up.implementation)}\`, what proposal ${rollback.earlier.id} (operation ${rollback.earlierId}, executed on the timelock) replaced`
          : done !== true
            ? `${n} claims to roll back proposal ${rollback.earlier.id}, but its operation ${rollback.earlierId} is ${done === false ? "not executed on the timelock" : "unknown (the timelock could not be asked)"}.`
            : running === undefined || !sameAddress(running, rollback.installed)
              ? `${n} claims to roll back proposal ${rollback.earlier.id}, but when it was scheduled the proxy ran \`${running ?? "(unread)"}\`, not \`${getAddress(rollback.installed)}\` which that proposal installed.`
              : `${n} claims to return ${untrusted(known!.name)} to \`${getAddress(up.implementation)}\`, what proposal ${rollback.earlier.id} replaced, but ${history ? `the proxy's Upgraded events show \`${getAddress(history.previous)}\` before \`${getAddress(history.current)}\`` : history === null ? "the proxy's Upgraded events show no implementation before the current one" : "the proxy's Upgraded events could not be read"}: the records' old implementation is not the chain's.`,
        "operation-mismatch",
      );
    }

    // The upgrade path read from the chain.
    let path: { ok: boolean; detail: string };
    if (known && up.kind !== known.kind) {
      path = { ok: false, detail: `${n} upgrades ${untrusted(known.name)} as a ${kindWord} proxy, but it is a ${known.kind === "uups" ? "UUPS" : "Transparent"} proxy.` };
    } else if (up.kind === "uups") {
      path = { ok: true, detail: `${n} calls upgradeToAndCall on the proxy itself` };
    } else {
      const admin = facts.admins[`${up.proxy.toLowerCase()}@${block}`];
      path =
        admin === undefined
          ? { ok: false, detail: `${n}: the EIP-1967 admin slot of ${label} at block ${block} could not be read, so the ProxyAdmin \`${getAddress(c.target)}\` is unproven.` }
          : sameAddress(admin, c.target)
            ? { ok: true, detail: `${n} calls upgradeAndCall on \`${getAddress(c.target)}\`, the ProxyAdmin in ${label}'s EIP-1967 admin slot at block ${block}` }
            : { ok: false, detail: `${n} sends upgradeAndCall to \`${getAddress(c.target)}\`, but the ProxyAdmin in ${label}'s EIP-1967 admin slot at block ${block} is \`${getAddress(admin)}\`: this call does not upgrade the proxy.` };
    }
    check(`${n}: upgrade path`, path.ok, path.detail, "wrong-upgrade-path");

    // The new implementation is the watcher's own build of the policy's target at a protected commit.
    let codeOk = false;
    // Without a record there is no commit to build: the unknown-operation alert already says so.
    if (target && record) {
      let detail: string;
      if (!record.commit) detail = `proposal ${record.id} names no commit, so there is no reviewed build of ${target.contract} to compare with.`;
      else if (!build) detail = `the build of ${target.contract} at commit ${record.commit} is not available.`;
      else if (!build.ok) detail = `no build of ${target.contract} at commit ${record.commit}: ${build.reason}`;
      else if (onchainHash === undefined) detail = `the code of \`${getAddress(up.implementation)}\` could not be read.`;
      else {
        codeOk = onchainHash === build.bytecodeHash;
        // Equal "immutables aside": the immutables themselves must hold what they must (UUPS __self).
        const badImmutables = codeOk && code ? checkImmutableValues(code, build.immutableReferences, build.immutableNames ?? {}, up.implementation).filter((c) => !c.ok) : [];
        if (badImmutables.length > 0) {
          codeOk = false;
          detail = `the code of \`${getAddress(up.implementation)}\` is the build of ${target.contract} at commit ${record.commit} except its immutables: ${badImmutables.map((c) => `${c.name} is ${c.detail}`).join("; ")}.`;
        } else detail = codeOk
          ? `the code of \`${getAddress(up.implementation)}\` is the build of ${target.contract} at protected commit ${record.commit} (${build.bytecodeHash})`
          : `the code of \`${getAddress(up.implementation)}\` hashes to ${onchainHash ?? "nothing (no code)"}, the build of ${target.contract} at commit ${record.commit} to ${build.bytecodeHash}${op && code && [onchainHash, bytecodeHash(code)].includes(record.artifacts[op.proxy]?.bytecodeHash ?? "") ? " (the record's own bytecodeHash matches the deployed code, but the record is not the reference)" : ""}.`;
      }
      check(`${n}: implementation build`, codeOk, detail, "bytecode-mismatch");
    }

    // An initializer only when the policy allows that function of the target.
    let initText: string | undefined;
    if (up.initializer !== "0x") {
      const decoded = decodeInitializer(up.initializer, build?.ok ? build.abi : undefined);
      initText = decoded?.text;
      const allowed = decoded !== undefined && target !== undefined && target.upgradeInitializers.includes(decoded.name);
      check(
        `${n}: initializer`,
        allowed,
        allowed
          ? `${n} calls ${decoded!.text}, an initializer the policy allows for ${label}`
          : decoded
            ? `${n} calls ${decoded.text} on ${label} during the upgrade; the policy allows ${target?.upgradeInitializers.length ? target.upgradeInitializers.join(", ") : "no initializer"} for it.`
            : `${n} calls selector \`${up.initializer.slice(0, 10)}\` (${(up.initializer.length - 2) / 2} bytes) on ${label} during the upgrade, which is no function of the reviewed build; the policy allows ${target?.upgradeInitializers.length ? target.upgradeInitializers.join(", ") : "no initializer"}.`,
        "initializer-not-allowed",
      );
    }

    const contract = codeOk ? target!.contract : undefined;
    const upgrade = {
      kind: up.kind,
      proxy: getAddress(up.proxy),
      ...(name ? { proxyName: name } : {}),
      ...(up.kind === "transparent" ? { proxyAdmin: getAddress(c.target) } : {}),
      ...(oldImplementation ? { oldImplementation: getAddress(oldImplementation) } : {}),
      ...(op?.oldContract ? { oldContract: op.oldContract } : {}),
      newImplementation: getAddress(up.implementation),
      ...(contract ? { contract } : {}),
      ...(op && op.contract !== contract ? { claimedContract: op.contract } : {}),
      initializer: up.initializer,
      ...(initText ? { initializerCall: initText } : {}),
      ...(onchainHash !== undefined ? { bytecodeHash: onchainHash } : {}),
      ...(build?.ok ? { expectedBytecodeHash: build.bytecodeHash, build: { commit: record!.commit!, contract: target!.contract } } : {}),
      ...(op && record?.artifacts[op.proxy]?.bytecodeHash ? { recordBytecodeHash: record.artifacts[op.proxy]!.bytecodeHash } : {}),
    };
    const via = up.kind === "transparent" ? ` through its ProxyAdmin \`${getAddress(c.target)}\`` : "";
    const from = upgrade.oldImplementation ? ` from \`${upgrade.oldImplementation}\`${upgrade.oldContract ? ` (${untrusted(upgrade.oldContract)})` : ""}` : "";
    const init =
      up.initializer === "0x"
        ? ", without calling an initializer"
        : `, then call ${initText ? `**${initText}**` : `\`${up.initializer.slice(0, 10)}\``} on it (initializer, ${(up.initializer.length - 2) / 2} bytes: \`${up.initializer}\`)`;
    const who = name ? `**${untrusted(name)}** (${kindWord} proxy \`${upgrade.proxy}\`)` : `the ${kindWord} proxy \`${upgrade.proxy}\` (**not a governed proxy of this deployment**)`;
    const what = contract ? ` (${contract})` : op ? ` (the record claims ${untrusted(op.contract)}; **not** the reviewed build)` : "";
    return { index, ...c, upgrade, description: `Upgrade ${who}${via}${from} to \`${upgrade.newImplementation}\`${what}${init}.` };
  });
  if (occ.calls.length === 0) check("calls", false, "the operation has no calls.", "not-an-upgrade");

  // 3. Who scheduled it: the Safe's execTransaction in this very transaction, the recorded one, signed by owners.
  const exec = schedTx?.safeExecution;
  const scheduledBy = ((): { ok: boolean; detail: string } => {
    if (!schedTx) return { ok: false, detail: `the scheduling transaction ${occ.scheduled.txHash} could not be read.` };
    const sender = `sent by \`${schedTx.from}\` to \`${schedTx.to ?? "(contract creation)"}\``;
    if (exec && exec.modules.length > 0) return { ok: false, detail: `the transaction (${sender}) ran module ${exec.modules.map((m) => `\`${m}\``).join(", ")} as the Safe: a module acts as the Safe with no owner signatures.` };
    if (!exec || exec.executions === 0) return { ok: false, detail: `the operation was scheduled by a transaction ${sender}, in which the Safe \`${t.safe}\` executed no Safe transaction: another proposer scheduled it.` };
    if (!exec.direct) return { ok: false, detail: `the transaction was ${sender}, not to the Safe \`${t.safe}\`: the schedule call did not provably come from the Safe's execTransaction.` };
    if (exec.executions !== 1) return { ok: false, detail: `the Safe executed ${exec.executions} Safe transactions in one transaction.` };
    const call = exec.call;
    if (!call) return { ok: false, detail: `the Safe transaction ${exec.safeTxHash} could not be decoded.` };
    if (call.operation !== 0) return { ok: false, detail: `the Safe transaction ${exec.safeTxHash} is a DELEGATECALL to \`${call.to}\`, not a call to the timelock.` };
    if (!sameAddress(call.to, t.timelock) || call.value !== "0") return { ok: false, detail: `the Safe transaction ${exec.safeTxHash} calls \`${call.to}\`${call.value !== "0" ? ` with ${ethAmount(call.value)}` : ""}, not the timelock with value 0.` };
    const id = scheduledIdOf(call.data);
    if (id !== occ.operationId) return { ok: false, detail: `the Safe transaction ${exec.safeTxHash} schedules ${id ?? "nothing the timelock knows"}, not operation ${occ.operationId}.` };
    return { ok: true, detail: `scheduled by the Safe's execTransaction (Safe transaction ${exec.safeTxHash}) in transaction ${occ.scheduled.txHash}` };
  })();
  check("scheduled by the Safe", scheduledBy.ok, scheduledBy.detail, "not-scheduled-by-safe");

  const scheduleTxs = record?.safeTransactions.filter((s) => s.purpose === "schedule") ?? [];
  const recordSafeTx = (exec && scheduleTxs.find((s) => sameAddress(s.safeTxHash, exec.safeTxHash))) || scheduleTxs.at(-1);
  if (record && exec && exec.executions > 0) {
    const matches = recordSafeTx !== undefined && sameAddress(recordSafeTx.safeTxHash, exec.safeTxHash);
    check(
      "recorded Safe transaction",
      matches,
      matches
        ? `the executed Safe transaction ${exec.safeTxHash} is the one proposal ${record.id} records`
        : `the Safe executed Safe transaction ${exec.safeTxHash}; proposal ${record.id} records ${scheduleTxs.length ? scheduleTxs.map((s) => s.safeTxHash).join(", ") : "no schedule Safe transaction"}.`,
      "safe-tx-mismatch",
    );
  }
  if (exec && exec.executions > 0) {
    const owners = facts.safeOwners[String(block)];
    const signers = [...new Set(exec.signers.map((a) => getAddress(a)))];
    const owning = owners ? signers.filter((s) => owners.owners.some((o) => sameAddress(o, s))) : [];
    const ok = owners !== undefined && owning.length >= owners.threshold;
    const outsiders = owners ? signers.filter((s) => !owning.includes(s)) : [];
    check(
      "signed by owners",
      ok,
      !owners
        ? `the Safe's owners and threshold before block ${block} could not be read.`
        : ok
          ? `${owning.length} of the Safe's owners signed (threshold ${owners.threshold} before block ${block}): ${owning.join(", ")}`
          : `the signatures recover to ${signers.length ? signers.join(", ") : "no one"}; ${owning.length} of them owned the Safe before block ${block}, threshold ${owners.threshold}${outsiders.length ? ` (not owners: ${outsiders.join(", ")})` : ""}.`,
      "signers-not-owners",
    );
  }

  // 4. The predecessor is nothing or an operation of this timelock.
  if (occ.predecessor !== ZeroHash) {
    const known = facts.operations[`${occ.predecessor.toLowerCase()}@${block}`];
    check(
      "predecessor",
      known === true,
      known === true ? `the predecessor ${occ.predecessor} is an operation of this timelock` : `the predecessor ${occ.predecessor} is ${known === false ? "no operation of this timelock" : "unknown (the timelock could not be asked)"}: the operation depends on something nobody reviewed.`,
      "unknown-predecessor",
    );
  }

  const scheduledAt = facts.blockTimestamps[occ.scheduled.blockHash];
  const eta = scheduledAt !== undefined ? scheduledAt + Number(occ.delay) : undefined;
  const safeTransaction: OperationReview["safeTransaction"] =
    exec && exec.executions > 0
      ? {
          safe: exec.safe,
          safeTxHash: exec.safeTxHash,
          ...(recordSafeTx && sameAddress(recordSafeTx.safeTxHash, exec.safeTxHash) ? { domainHash: recordSafeTx.domainHash, messageHash: recordSafeTx.messageHash, nonce: recordSafeTx.nonce } : exec.nonce !== undefined ? { nonce: exec.nonce } : {}),
          signers: exec.signers,
          ...(facts.safeOwners[String(block)] ? { threshold: facts.safeOwners[String(block)]!.threshold } : exec.threshold !== undefined ? { threshold: exec.threshold } : {}),
          ...(recordSafeTx ? { matchesRecord: sameAddress(recordSafeTx.safeTxHash, exec.safeTxHash) } : {}),
        }
      : undefined;

  // A guardian Safe is known from the record's cancel path (propose read its code); an EOA guardian
  // has no Safe to import the Transaction Builder file into.
  const guardianSafeTx = record?.cancel?.guardianSafeTx;
  const status = statusOf(occ);
  // Only a pending operation is simulated: once executed or cancelled, the chain says what it did.
  const simulation = status === "scheduled" ? ctx.simulations?.[occ.key] : undefined;
  if (simulation) alerts.push(...simulationAlerts(simulation));
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
    ...(occ.history.length > 0 ? { history: occ.history } : {}),
    ...(record ? { proposal: { id: record.id, commit: record.commit, createdAt: record.createdAt, ...(record.rollback ? { rollbackOperationId: record.rollback.operationId } : {}), ...(record.kind ? { kind: record.kind } : {}), ...(record.rollbackOf ? { rollbackOf: record.rollbackOf.proposal } : {}) } } : {}),
    storageLayoutDiff: record?.storageLayoutDiff ?? {},
    ...(safeTransaction ? { safeTransaction } : {}),
    verification: { status: !record ? "unverified" : checks.every((c) => c.ok) ? "verified" : "failed", checks },
    ...(simulation ? { simulation } : {}),
    cancel: cancelPath({
      network: t.network,
      chainId: t.chainId,
      timelock: t.timelock,
      operationId: occ.operationId,
      ...(guardianSafeTx ? { guardianSafeTx } : {}),
      ...(t.guardians ? { guardians: t.guardians } : {}),
      // With a record: its words and creation time, so the file is the one propose wrote beside it.
      createdAt: record ? Date.parse(record.createdAt) : (scheduledAt ?? 0) * 1000,
      what: record ? proposalWords(record) : calls.map((c) => (c.upgrade ? `${c.upgrade.proxyName ?? c.upgrade.proxy} -> ${c.upgrade.contract ?? c.upgrade.newImplementation}` : c.target)).join(", "),
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
  // The Safe's creation emits its own configuration (SafeSetup with the owners, the fallback handler): not a change.
  const safeCreation = events.some((e) => e.address === t.safe && e.name === "SafeSetup");
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
      default: {
        if (e.address !== t.safe || safeCreation) break;
        if ((SAFE_CONFIG_EVENTS as readonly string[]).includes(e.name)) {
          const change = safeChangeText(e);
          verdict = {
            kind: "safe-config-change",
            title: `Safe configuration changed: ${change}`,
            message: `the governing Safe \`${t.safe}\` changed its own configuration: ${change}${from ? ` (transaction sent by ${from})` : ""}. Who can sign, or what can act as the Safe without signatures, is not what it was.`,
            remedy: "run `gatehouse doctor` to compare the Safe with the policy; if the owners did not decide this together, treat the Safe as compromised and have the guardian cancel every queued operation.",
          };
        } else if ((SAFE_MODULE_EVENTS as readonly string[]).includes(e.name)) {
          verdict = {
            kind: "safe-module-execution",
            title: `A module executed a transaction as the Safe: ${e.args.module}`,
            message: `module \`${e.args.module}\` executed a transaction as the governing Safe \`${t.safe}\`${from ? ` (transaction sent by ${from})` : ""}: no owner signature was needed. Anything it scheduled on the timelock was not approved by the owners.`,
            remedy: "check what the module did and who controls it; disable it through the Safe and have the guardian cancel what it scheduled.",
          };
        }
        break;
      }
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

function safeChangeText(e: WatchedEvent): string {
  const a = e.args;
  switch (e.name) {
    case "AddedOwner":
      return `owner ${a.owner} added`;
    case "RemovedOwner":
      return `owner ${a.owner} removed`;
    case "ChangedThreshold":
      return `threshold set to ${a.threshold}`;
    case "EnabledModule":
      return `module ${a.module} enabled (it can act as the Safe with no signatures)`;
    case "DisabledModule":
      return `module ${a.module} disabled`;
    case "ChangedGuard":
      return `guard set to ${a.guard}`;
    case "ChangedModuleGuard":
      return `module guard set to ${a.moduleGuard}`;
    case "ChangedFallbackHandler":
      return `fallback handler set to ${a.handler}`;
    case "ChangedMasterCopy":
      return `singleton (master copy) changed to ${a.singleton}`;
    default:
      return e.name;
  }
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
