import { cancelArtifact } from "../proposal/derive.ts";
import type { LayoutRowRecord } from "../records/proposal.ts";
import type { ProposalEffects } from "../simulate/effects.ts";
import { formatDuration } from "../timelock/calls.ts";
import type { TxBuilderFile } from "./tx-builder.ts";
import { untrusted, untrustedCode } from "./untrusted.ts";

/**
 * The community review of one timelock operation (pure): what it does in plain words, where it comes
 * from (proposal record, commit, Safe transaction and signers), whether it checks out, when it runs,
 * and exactly how the guardian stops it. `gatehouse review` prints it; the watcher posts it.
 */
export type AlertKind =
  | "unknown-operation"
  | "operation-mismatch"
  | "bytecode-mismatch"
  | "upgrade-outside-timelock"
  | "role-change"
  | "delay-change"
  | "ownership-change"
  | "admin-change"
  // A call of the batch that is not a governed upgrade: role or delay change, value transfer, arbitrary target.
  | "not-an-upgrade"
  | "ungoverned-proxy"
  | "wrong-upgrade-path"
  | "value-transfer"
  | "initializer-not-allowed"
  | "not-scheduled-by-safe"
  | "safe-tx-mismatch"
  | "signers-not-owners"
  | "unknown-predecessor"
  // The governing Safe's own configuration, and a module acting as the Safe.
  | "safe-config-change"
  | "safe-module-execution"
  // The watcher's re-simulation of a pending operation at the current head (src/watch/simulations.ts).
  | "simulation-reverted"
  | "probe-failed"
  | "simulation-finding"
  | "effects-changed"
  | "packet-tampered";

export interface Alert {
  kind: AlertKind;
  /** The verification check that failed (its name in the review's checks). */
  check?: string;
  message: string;
}

export type OperationStatus = "scheduled" | "executed" | "cancelled" | "retracted";

export interface UpgradeDetails {
  kind: "uups" | "transparent";
  proxy: string;
  proxyName?: string;
  proxyAdmin?: string;
  /** The proxy's implementation when the operation was scheduled (ERC-1967 slot). */
  oldImplementation?: string;
  oldContract?: string;
  newImplementation: string;
  /** The policy's target contract, set only when the new implementation is its reviewed build. */
  contract?: string;
  /** The contract the proposal record claims, when it is not proven. */
  claimedContract?: string;
  initializer: string;
  /** The initializer decoded with the reviewed build's ABI: `name(arg=value, …)`. */
  initializerCall?: string;
  /** keccak256 of the new implementation's runtime code (immutables masked) as read on chain; null: no code. */
  bytecodeHash?: string | null;
  /** The watcher's own build of the policy's target at the record's (protected) commit. */
  expectedBytecodeHash?: string;
  build?: { commit: string; contract: string };
  /** What the proposal record claims (shown, never the reference). */
  recordBytecodeHash?: string;
}

export interface ReviewCall {
  index: number;
  target: string;
  value: string;
  data: string;
  /** One sentence a community member can read. */
  description: string;
  upgrade?: UpgradeDetails;
  /** A governance change decoded from the calldata (updateDelay, grantRole, revokeRole, unpause) and whether it keeps the policy's topology. */
  governance?: { action: string; text: string; policyConsistent: boolean };
}

export interface ChainPoint {
  block: number;
  blockHash: string;
  txHash: string;
  from?: string;
}

export interface VerificationCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface OperationReview {
  key: string;
  network: string;
  chainId: number;
  timelock: string;
  operationId: string;
  status: OperationStatus;
  severity: "review" | "alert";
  alerts: Alert[];
  title: string;
  calls: ReviewCall[];
  predecessor: string;
  salt: string;
  delaySeconds: string;
  scheduled: ChainPoint & { timestamp?: number };
  eta?: { timestamp: number; iso: string };
  executed?: ChainPoint;
  cancelled?: ChainPoint;
  /** Earlier schedulings of the same operation id (each cancelled or, on a broken chain, executed), oldest first. */
  history?: { scheduled: ChainPoint; cancelled?: ChainPoint; executed?: ChainPoint }[];
  /** `kind` and `rollbackOf` are the record's words (claims): a rollback record names the proposal it undoes. */
  proposal?: { id: string; commit: string | null; createdAt: string; rollbackOperationId?: string; kind?: "upgrade" | "rollback" | "governance"; rollbackOf?: string };
  storageLayoutDiff: Record<string, LayoutRowRecord[]>;
  safeTransaction?: {
    safe: string;
    safeTxHash: string;
    domainHash?: string;
    messageHash?: string;
    nonce?: number;
    signers: string[];
    threshold?: number;
    /** The executed Safe transaction is the one the proposal record names. */
    matchesRecord?: boolean;
  };
  verification: { status: "verified" | "failed" | "unverified"; checks: VerificationCheck[] };
  /** The watcher's latest re-simulation (absent when the watcher does not simulate, or the operation is no longer pending). */
  simulation?: OperationSimulation;
  cancel: {
    timelock: string;
    function: "cancel(bytes32)";
    calldata: string;
    command: string;
    builderCommand: string;
    guardianSafe?: string;
    /** The timelock's cancellers as read on chain by the watcher (absent when it could not read them). */
    guardians?: Guardian[];
    txBuilder: TxBuilderFile;
  };
}

/**
 * The watcher's re-simulation of a pending operation on a fork of the current head (plain data: the
 * shell ran it, the core only reads it). `phase`: when it ran — once the operation is seen scheduled,
 * again when its ETA is near.
 */
export interface OperationSimulation {
  phase: "scheduled" | "near-eta";
  /** `simulated`: the path ran (it may have reverted); `not-simulated`: it could not run, with the reason. */
  status: "simulated" | "not-simulated";
  reason?: string;
  forkBlock?: number;
  /** Where the simulation started: the proposal record, or the on-chain CallScheduled calls (no record). */
  source?: "record" | "calls";
  steps?: { name: string; ok: boolean; gasUsed: string; revert?: string }[];
  /** Every storage change of the path but the pipeline's own bookkeeping (the effects a signer packet pins). */
  changes?: { account: string; accountLabel: string; slot: string; variable: string | null; before: string; after: string; decoded?: string }[];
  unknownSlots?: number;
  permissions?: { what: string; before: string; after: string }[];
  balances?: { account: string; delta: string }[];
  probes?: { name: string; ok: boolean; detail: string }[];
  findings?: { kind: string; message: string }[];
  /** The effects of this run and their hash (src/simulate/effects.ts): what a signer packet pins. */
  effects?: ProposalEffects;
  effectsHash?: string;
  /** The signer packet (proposals/<network>/<id>.validation.json) and how this run compares with it. */
  packet?: { file: string; status: "match" | "differs" | "tampered" | "missing"; detail?: string; differences?: string[] };
}

/** A canceller of the timelock: its address, whether its code is a Safe, whether it holds CANCELLER_ROLE now. */
export interface Guardian {
  address: string;
  safe: boolean;
  cancellerRole: boolean;
}

/** The only part of a review that changes with the clock; excluded from content hashes. */
export interface TimeLeft {
  now: number;
  seconds: number;
  text: string;
}

export function timeLeft(eta: number | undefined, now: number): TimeLeft | undefined {
  if (eta === undefined) return undefined;
  const seconds = Math.max(0, eta - now);
  return { now, seconds, text: seconds === 0 ? "ready now" : `${formatDuration(seconds)} left` };
}

/** The cancel path of an operation: the exact call, the Transaction Builder file, the CLI command. */
export function cancelPath(input: {
  network: string;
  chainId: number;
  timelock: string;
  operationId: string;
  /** The guardian Safe and the nonce its cancel was prepared at (from the proposal's cancel path). */
  guardianSafeTx?: { safe: string; nonce: number };
  guardians?: Guardian[];
  createdAt: number;
  what: string;
}): OperationReview["cancel"] {
  // The same file propose wrote beside the record (same words, creation time and guardian nonce).
  const artifact = cancelArtifact({ chainId: input.chainId, timelock: input.timelock, operationId: input.operationId, what: input.what, createdAt: input.createdAt, ...(input.guardianSafeTx ? { guardianSafe: input.guardianSafeTx } : {}) });
  return {
    timelock: input.timelock,
    function: "cancel(bytes32)",
    calldata: artifact.calldata,
    command: `npx gatehouse cancel ${input.operationId} --network ${input.network}`,
    builderCommand: `npx gatehouse cancel ${input.operationId} --network ${input.network} --builder-file cancel-${input.operationId.slice(2, 14)}.json`,
    ...(input.guardianSafeTx ? { guardianSafe: input.guardianSafeTx.safe } : {}),
    ...(input.guardians ? { guardians: input.guardians } : {}),
    txBuilder: artifact.txBuilder,
  };
}

const STATUS_WORD: Record<OperationStatus, string> = {
  scheduled: "Queued",
  executed: "Executed",
  cancelled: "Cancelled",
  retracted: "Retracted",
};

/** "Queued: upgrade vault to VaultV2, registry to RegistryV2 (op 0x1234abcd…)". */
export function reviewTitle(r: Pick<OperationReview, "status" | "severity" | "calls" | "operationId" | "alerts">): string {
  const what = r.calls.length > 0 && r.calls.every((c) => c.governance)
    ? `governance change: ${r.calls.map((c) => c.governance!.action).join(", ")}`
    : r.calls.every((c) => c.upgrade)
    ? `upgrade ${r.calls.map((c) => `${c.upgrade!.proxyName !== undefined ? untrusted(c.upgrade!.proxyName) : short(c.upgrade!.proxy)} to ${c.upgrade!.contract !== undefined ? untrusted(c.upgrade!.contract) : short(c.upgrade!.newImplementation)}`).join(", ")}`
    : `${r.calls.length} call${r.calls.length === 1 ? "" : "s"}`;
  const alert = r.severity === "alert" ? `ALERT (${[...new Set(r.alerts.map((a) => a.kind))].join(", ")}): ` : "";
  return `${alert}${STATUS_WORD[r.status]}: ${what} (op ${r.operationId.slice(0, 10)}…)`;
}

function short(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

const code = (s: string | number) => `\`${s}\``;

function isoUtc(timestamp: number): string {
  return new Date(timestamp * 1000).toISOString().replace(".000Z", "Z");
}

/** One line for chat messages and logs. */
export function reviewSummary(r: OperationReview, left?: TimeLeft): string {
  const eta = r.eta && r.status === "scheduled" ? ` ETA ${isoUtc(r.eta.timestamp)}${left ? ` (${left.text})` : ""}.` : "";
  const verification = r.verification.status === "verified" ? " Verified." : r.verification.status === "failed" ? " Verification FAILED." : " Not proposed through Gatehouse.";
  const cancel = r.status === "scheduled" ? ` Cancel: ${r.cancel.command}` : "";
  return `${r.title}.${eta}${verification}${cancel}`;
}

export function renderOperationMarkdown(r: OperationReview, left?: TimeLeft): string {
  const lines: string[] = [];
  const icon = r.severity === "alert" ? "🚨" : r.status === "scheduled" ? "⏳" : r.status === "executed" ? "✅" : "🛑";
  lines.push(`## ${icon} ${r.title}`, "");
  if (r.status === "retracted") {
    lines.push("> **RETRACTED.** The block that scheduled this operation is no longer on the canonical chain (reorg). Nothing is queued under this post; ignore it unless it is scheduled again.", "");
  }
  if (r.alerts.length > 0) {
    lines.push("> [!CAUTION]", ...r.alerts.map((a) => `> **${a.kind}**${a.check ? ` (failed check: ${a.check})` : ""}: ${a.message}`), "");
  }
  if (r.history && r.history.length > 0) {
    lines.push(
      `> **Scheduled again.** This operation id was scheduled ${r.history.length} time${r.history.length === 1 ? "" : "s"} before:`,
      ...r.history.map((h, i) => `> ${i + 1}. scheduled in block ${h.scheduled.block} (tx ${code(h.scheduled.txHash)})${h.cancelled ? `, cancelled in block ${h.cancelled.block} (tx ${code(h.cancelled.txHash)})` : h.executed ? `, executed in block ${h.executed.block}` : ""}`),
      "",
    );
  }
  const verification = r.verification.status === "verified" ? "✅ verified" : r.verification.status === "failed" ? "❌ FAILED" : "⚠️ unverified (no proposal record)";
  const state =
    r.status === "scheduled"
      ? `queued, ETA **${r.eta ? isoUtc(r.eta.timestamp) : "?"}**${left ? ` (${left.text})` : ""}`
      : r.status === "executed"
        ? `executed in block ${r.executed!.block} (tx ${code(r.executed!.txHash)})`
        : r.status === "cancelled"
          ? `cancelled in block ${r.cancelled!.block} (tx ${code(r.cancelled!.txHash)}${r.cancelled!.from ? ` from ${code(r.cancelled!.from)}` : ""})`
          : "retracted";
  lines.push(`**Status:** ${state} · **Verification:** ${verification} · **Network:** ${r.network} (chain ${r.chainId})`, "");

  lines.push("### What it does", "");
  for (const c of r.calls) lines.push(`${c.index + 1}. ${c.description}`);
  lines.push("");

  lines.push("### Operation", "", "| Field | Value |", "| --- | --- |");
  lines.push(`| Timelock | ${code(r.timelock)} |`);
  lines.push(`| Operation id | ${code(r.operationId)} |`);
  lines.push(`| Scheduled | block ${r.scheduled.block} (${code(r.scheduled.blockHash)}), tx ${code(r.scheduled.txHash)}${r.scheduled.from ? ` from ${code(r.scheduled.from)}` : ""} |`);
  lines.push(`| Delay | ${r.delaySeconds}s (${formatDuration(BigInt(r.delaySeconds))}) |`);
  if (r.eta) lines.push(`| ETA | ${isoUtc(r.eta.timestamp)} (unix ${r.eta.timestamp})${left && r.status === "scheduled" ? `, ${left.text}` : ""} |`);
  lines.push(`| Predecessor | ${code(r.predecessor)} |`);
  lines.push(`| Salt | ${code(r.salt)} |`);
  lines.push("");

  lines.push("### Proposal", "");
  if (r.proposal) {
    lines.push(`- Record: ${code(`proposals/${r.network}/${r.proposal.id}.json`)} (staged ${untrusted(r.proposal.createdAt)})`);
    lines.push(`- Commit: ${r.proposal.commit ? untrustedCode(r.proposal.commit) : "unknown (staged outside git)"}`);
    if (r.proposal.kind && r.proposal.kind !== "upgrade") lines.push(`- Kind: ${r.proposal.kind}${r.proposal.rollbackOf ? ` (the record says it rolls back proposal ${untrustedCode(r.proposal.rollbackOf)})` : ""}`);
    if (r.proposal.rollbackOperationId) lines.push(`- Rollback operation: ${code(r.proposal.rollbackOperationId)}`);
  } else {
    lines.push("- **No proposal record matches this operation id.** Nobody proposed it through the Gatehouse pipeline.");
  }
  if (r.safeTransaction) {
    const s = r.safeTransaction;
    lines.push(`- Safe transaction: Safe ${code(s.safe)}${s.nonce !== undefined ? ` nonce ${s.nonce}` : ""}`);
    lines.push(`  - safeTxHash ${code(s.safeTxHash)}${s.matchesRecord === false ? " (**not** the one in the proposal record)" : ""}`);
    if (s.domainHash) lines.push(`  - domain hash ${code(s.domainHash)}`);
    if (s.messageHash) lines.push(`  - message hash ${code(s.messageHash)}`);
    lines.push(`  - signers (${s.signers.length}${s.threshold ? ` of threshold ${s.threshold}` : ""}): ${s.signers.map(code).join(", ") || "none recovered"}`);
  } else {
    lines.push(`- Scheduled directly, not through the Gatehouse Safe${r.scheduled.from ? ` (sender ${code(r.scheduled.from)})` : ""}.`);
  }
  lines.push("");

  lines.push("### Storage layout diff", "");
  const proxies = Object.keys(r.storageLayoutDiff);
  if (proxies.length === 0) lines.push(r.proposal ? "No storage layout changes recorded." : "Unknown: no proposal record.");
  for (const proxy of proxies) {
    const rows = r.storageLayoutDiff[proxy]!;
    const changed = rows.filter((x) => x.status !== "kept");
    lines.push(`**${untrusted(proxy)}**: ${rows.length} variable${rows.length === 1 ? "" : "s"}, ${changed.length} changed`, "");
    if (rows.length > 0) {
      lines.push("| Variable | Type | Slot | Offset | Status |", "| --- | --- | --- | --- | --- |");
      for (const row of rows) {
        const cell = (v: unknown) => (v === undefined || v === null ? "" : untrusted(String(v)));
        lines.push(`| ${untrustedCode(String(row.label ?? "?"))} | ${untrustedCode(String(row.type ?? "?"))} | ${cell(row.slot)} | ${cell(row.offset)} | ${row.status === "kept" || row.status === "appended" ? row.status : `**${cell(row.status)}**`} |`);
      }
      lines.push("");
    }
  }
  lines.push("");

  if (r.simulation) lines.push(...renderSimulationSection(r.simulation));

  lines.push("### Verification", "");
  for (const c of r.verification.checks) lines.push(`- [${c.ok ? "x" : " "}] ${c.name}: ${c.detail}`);
  if (r.verification.checks.length === 0) lines.push("- nothing to verify against: no proposal record");
  lines.push("");

  lines.push("### Cancel path (guardian)", "");
  const guardians = r.cancel.guardians;
  if (guardians && guardians.length > 0) {
    for (const g of guardians) {
      lines.push(`- Guardian ${code(g.address)}: ${g.safe ? "a Safe (its owners sign the cancel)" : "not a Safe (an account or another contract)"}${g.cancellerRole ? ", holds CANCELLER_ROLE on the timelock" : ", **does not hold CANCELLER_ROLE** on the timelock now"}.`);
    }
    lines.push("");
  } else if (guardians) {
    lines.push("- **No guardian:** the deployment record names no canceller of the timelock.", "");
  }
  if (r.status !== "scheduled") lines.push(`_The operation is ${r.status}; it can no longer be cancelled._`, "");
  else
    lines.push(
      `The guardian can cancel until the operation is executed: the ETA${r.eta ? ` (${isoUtc(r.eta.timestamp)})` : ""} is the earliest it can run, and it stays cancellable after the ETA for as long as nobody executes it. Any of these equivalent ways:`,
      "",
    );
  lines.push(`1. Command: ${code(r.cancel.command)}`);
  lines.push(`2. Call: ${code(r.cancel.function)} on the timelock ${code(r.cancel.timelock)}, value 0, calldata ${code(r.cancel.calldata)}`);
  lines.push(`3. Safe Transaction Builder file for the guardian Safe's Transaction Builder app${r.cancel.guardianSafe ? ` (guardian ${code(r.cancel.guardianSafe)})` : ""}; the same file is written by ${code(r.cancel.builderCommand)}:`, "");
  lines.push("<details><summary>cancel transaction builder JSON</summary>", "", "```json", JSON.stringify(r.cancel.txBuilder, null, 2), "```", "", "</details>", "");
  return lines.join("\n");
}

const PHASE_WORD = { scheduled: "when it was scheduled", "near-eta": "as its ETA nears" } as const;

/**
 * The watcher's re-simulation in a review. Variable names, revert reasons and probe details come from
 * contracts, layouts and the packet file: untrusted text, marked as such.
 */
function renderSimulationSection(s: OperationSimulation): string[] {
  const L: string[] = [`### Simulation (${PHASE_WORD[s.phase]})`, ""];
  if (s.status === "not-simulated") {
    L.push(`**Not simulated:** ${untrusted(s.reason ?? "unknown reason")}. Nothing below was run on a fork; the checks above still hold.`, "");
    return L;
  }
  L.push(`Re-simulated on a fork of block ${s.forkBlock ?? "?"} (the head when it ran), ${s.source === "calls" ? "from the calls in the CallScheduled events (no proposal record)" : "from the proposal record"}: executeBatch at the ETA${s.steps && s.steps.length > 1 ? ", after the Safe's schedule" : ""}.`, "");
  for (const st of s.steps ?? []) L.push(`- ${st.ok ? "✅ success" : "❌ **REVERTED**"}: ${untrusted(st.name)} (gas ${st.gasUsed})${st.revert ? `: ${untrustedCode(st.revert)}` : ""}`);
  L.push("", `**State diff** (${s.changes?.length ?? 0} slot(s) changed besides the timelock's and Safe's bookkeeping${s.unknownSlots ? `, ${s.unknownSlots} unnamed` : ""}):`, "");
  if (!s.changes?.length) L.push("- no storage changed");
  for (const c of s.changes ?? []) {
    // Decoded values carry their variable's name (`path: before -> after`); a raw slot shows its words.
    const what = c.decoded ? untrustedCode(c.decoded) : `${c.variable ? untrustedCode(c.variable) : `unnamed slot ${code(c.slot)}`}: ${code(c.before)} → ${code(c.after)}`;
    L.push(`- ${untrusted(c.accountLabel)} ${code(c.account)}: ${what}`);
  }
  L.push("", "**Permission changes:**", "");
  L.push(...(s.permissions?.length ? s.permissions.map((p) => `- **${untrusted(p.what)}**: ${untrustedCode(p.before)} → ${untrustedCode(p.after)}`) : ["- none (Safe owners, threshold, modules, guard; timelock roles and delay; proxy owners and admins)"]));
  if (s.balances?.length) L.push("", "**Balance changes:**", "", ...s.balances.map((b) => `- ${code(b.account)}: ${code(b.delta)} wei`));
  L.push("", "**Post-upgrade probes:**", "");
  L.push(...(s.probes?.length ? s.probes.map((p) => `- [${p.ok ? "x" : " "}] ${untrusted(p.name)}${p.ok ? "" : ` — **FAILED**: ${untrusted(p.detail)}`}`) : ["- not run (the path did not complete)"]));
  if (s.packet) {
    const p = s.packet;
    const head = `**Signer packet** ${untrustedCode(p.file)}: `;
    if (p.status === "match") L.push("", `${head}the effects match the packet the signers pinned (${code(s.effectsHash ?? "")}).`);
    else if (p.status === "missing") L.push("", `${head}none; there is no pinned state diff to compare with.`);
    else if (p.status === "tampered") L.push("", `${head}**not trusted**: ${untrusted(p.detail ?? "")}`);
    else L.push("", `${head}**the effects differ from what the signers pinned** (the world changed under the proposal):`, "", ...(p.differences ?? []).map((d) => `- ${untrusted(d)}`));
  }
  L.push("");
  return L;
}

/** The JSON form: the review plus the clock-dependent part, under `timeLeft`. */
export function operationReviewJson(r: OperationReview, left?: TimeLeft): OperationReview & { timeLeft?: TimeLeft } {
  return left && r.status === "scheduled" ? { ...r, timeLeft: left } : { ...r };
}
