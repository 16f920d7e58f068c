import { z } from "zod";
import { getAddress, toBeHex } from "ethers";
import { GatehouseError } from "../errors.ts";
import { displayPath, readJsonIfExists } from "../fs/atomic.ts";
import { parseWith } from "../policy/load.ts";
import { Address } from "../policy/schema.ts";
import { SafeTxRecord, type ProposalRecord } from "../records/proposal.ts";
import { safeTxHashes, type SafeTxData } from "../safe/hash.ts";
import { decodeProposal } from "../review/proposal.ts";
import { decodeSchedule, formatDuration, upgradeInterface } from "../timelock/calls.ts";
import type { SlotChange } from "./diff.ts";
import { canonicalJson, compareEffects, effectsHash, effectsOf, isBookkeeping } from "./effects.ts";
import type { SimulationReport } from "./simulate.ts";

/**
 * The signer packet (pure): `proposals/<network>/<id>.validation.json`, with its Markdown rendering
 * beside it. Everything a signer compares before approving the schedule Safe transaction: the fields
 * and three hashes the hardware wallet shows, the decoded inner calls, and what the batch does when it
 * runs (the state, permission and balance changes of a fork simulation, and the probes), pinned as
 * `effects` with their `effectsHash`. `verify` and `sign` rebuild it from the record and a fresh
 * simulation and compare field by field, so a packet is a claim checked like any record.
 *
 * `run` (fork block, start, steps, gas, notes) says how and when that simulation ran: it changes with
 * the block and is shown, not pinned.
 */

const Bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, { message: "a 0x-prefixed 32-byte hex value" });
const Uint = z.string().regex(/^\d+$/, { message: "a decimal integer string" });
const Signed = z.string().regex(/^[+-]?\d+$/, { message: "a signed decimal integer string" });

const Effects = z
  .object({
    version: z.literal(1),
    operationId: Bytes32,
    changes: z.array(z.object({ account: Address, slot: Bytes32, variable: z.string().nullable(), before: Bytes32, after: Bytes32 }).strict()),
    permissions: z.array(z.object({ what: z.string(), before: z.string(), after: z.string() }).strict()),
    balances: z.array(z.object({ account: Address, delta: Signed }).strict()),
    probes: z.array(z.object({ name: z.string(), ok: z.boolean() }).strict()),
    reverts: z.array(z.string()),
  })
  .strict();

const StateChangeRow = z
  .object({
    account: Address,
    accountLabel: z.string(),
    slot: Bytes32,
    /** The decoded variable with its keys; null when no known layout names the slot. */
    variable: z.string().nullable(),
    before: Bytes32,
    after: Bytes32,
    /** Decoded values, `path: before -> after` per packed variable. */
    decoded: z.string().nullable(),
    meaning: z.string(),
    /** The pipeline's own bookkeeping (timelock timestamp, Safe nonce and approvals): shown, not pinned. */
    bookkeeping: z.boolean(),
  })
  .strict();

export const SignerPacket = z
  .object({
    version: z.literal(1),
    proposal: z.string().regex(/^[0-9a-f]{12}$/),
    network: z.string(),
    chainId: z.number().int(),
    safe: Address,
    timelock: Address,
    operationId: Bytes32,
    // The record's Safe transaction fields and hashes, without what only the record tracks.
    safeTx: SafeTxRecord.pick({ to: true, value: true, data: true, operation: true, safeTxGas: true, baseGas: true, gasPrice: true, gasToken: true, refundReceiver: true, nonce: true, domainHash: true, messageHash: true, safeTxHash: true }),
    /** The Safe transaction's data decoded: the timelock call and each call of the batch. */
    innerCall: z
      .object({
        function: z.string(),
        operationId: Bytes32,
        delaySeconds: Uint,
        salt: Bytes32,
        predecessor: Bytes32,
        calls: z.array(
          z
            .object({
              index: z.number().int().nonnegative(),
              target: Address,
              value: Uint,
              function: z.string().nullable(),
              args: z.record(z.string(), z.string()),
              description: z.string(),
            })
            .strict(),
        ),
      })
      .strict(),
    run: z
      .object({
        forkBlock: z.number().int().nonnegative(),
        start: z.enum(["propose", "scheduled"]),
        steps: z.array(z.object({ name: z.string(), ok: z.boolean(), gasUsed: Uint, revert: z.string().optional(), events: z.array(z.string()) }).strict()),
        notes: z.array(z.string()),
      })
      .strict(),
    findings: z.array(z.object({ kind: z.string(), message: z.string() }).strict()),
    probes: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string() }).strict()),
    stateChanges: z.array(StateChangeRow),
    unknownSlots: z.number().int().nonnegative(),
    permissions: z.array(z.object({ what: z.string(), before: z.string(), after: z.string() }).strict()),
    balances: z.array(z.object({ account: Address, before: Uint, after: Uint, delta: Signed }).strict()),
    effects: Effects,
    effectsHash: Bytes32,
  })
  .strict();
export type SignerPacket = z.infer<typeof SignerPacket>;

/** `<id>.validation.json` beside the record `<id>.json`. */
export function packetFile(recordFile: string): string {
  return recordFile.replace(/\.json$/, ".validation.json");
}

/** `<id>.validation.md` beside the packet. */
export function packetMarkdownFile(recordFile: string): string {
  return recordFile.replace(/\.json$/, ".validation.md");
}

/** The packet file, validated; undefined when there is none. Bad JSON or a bad field: FILE_INVALID (exit 2) naming file and field. */
export function readSignerPacket(file: string): SignerPacket | undefined {
  const data = readJsonIfExists(file);
  if (data === undefined) return undefined;
  return parseWith(SignerPacket, data, displayPath(file));
}

const fmtArg = (v: unknown): string => (typeof v === "bigint" ? v.toString() : Array.isArray(v) ? `[${v.map(fmtArg).join(", ")}]` : String(v));

function slotAddress(word: string): string {
  return getAddress(toBeHex(BigInt(word) & ((1n << 160n) - 1n), 20));
}

function bookkeepingMeaning(variable: string, before: string, after: string): string {
  if (variable === "_timestamps") return BigInt(after) === 1n ? "bookkeeping: the timelock marks the operation done" : `bookkeeping: the timelock records the operation's ETA (${BigInt(after)})`;
  if (variable === "nonce") return `bookkeeping: the Safe's nonce goes from ${BigInt(before)} to ${BigInt(after)}`;
  return "bookkeeping: an owner's on-chain approval (approveHash) of the Safe transaction";
}

/**
 * Bookkeeping rows are shown but not pinned (they differ between a run from the approvals and one at
 * the ETA), so each is held to what a bookkeeping row can be (pure): the timelock's timestamp of this
 * operation, the Safe's nonce or an approval, with the label and the meaning Gatehouse writes for it.
 */
export function bookkeepingRowProblems(p: Pick<SignerPacket, "stateChanges" | "timelock" | "safe" | "operationId">): string[] {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  return p.stateChanges.flatMap((c, i) => {
    if (!c.bookkeeping) return [];
    const v = c.variable ?? "";
    const base = same(c.account, p.timelock) && same(v, `_timestamps[${p.operationId}]`) ? "_timestamps" : same(c.account, p.safe) && (v === "nonce" || /^approvedHashes\[/.test(v)) ? v.replace(/\[.*$/, "") : undefined;
    const label = base === "_timestamps" ? "timelock" : "Safe";
    return base !== undefined && c.accountLabel === label && c.meaning === bookkeepingMeaning(base, c.before, c.after) ? [] : [`stateChanges[${i}] (marked bookkeeping, but not the timelock's timestamp of this operation or the Safe's nonce or approvals as Gatehouse describes them)`];
  });
}

/** One line of meaning for a state change, in a signer's words. */
function meaningOf(c: SlotChange, record: ProposalRecord, bookkeeping: boolean): string {
  const v = c.name?.variable;
  if (v === "erc1967.implementation") {
    const op = record.operations.find((o) => o.proxyAddress.toLowerCase() === c.account.toLowerCase());
    const after = slotAddress(c.after);
    const named = op && op.newImplementation.toLowerCase() === after.toLowerCase() ? ` (${op.contract})` : "";
    return `${c.accountLabel} now runs implementation ${after}${named}, was ${slotAddress(c.before)}`;
  }
  if (v === "erc1967.admin") return `${c.accountLabel}: the proxy's admin changes from ${slotAddress(c.before)} to ${slotAddress(c.after)}`;
  if (v === "erc1967.beacon") return `${c.accountLabel}: the proxy's beacon changes`;
  if (bookkeeping && v) return bookkeepingMeaning(v, c.before, c.after);
  if (!c.name) return `${c.accountLabel}: a slot no known storage layout names (raw)`;
  return `${c.accountLabel}: ${c.name.path} changes`;
}

function describeCall(call: { target: string; value: bigint; data: string }, decoded: ReturnType<typeof decodeProposal>["calls"][number]): { function: string | null; args: Record<string, string>; description: string } {
  let parsed = null;
  try {
    parsed = upgradeInterface.parseTransaction({ data: call.data, value: call.value });
  } catch {
    parsed = null;
  }
  const fn = parsed ? parsed.fragment.format("sighash") : null;
  const args = parsed ? Object.fromEntries(parsed.fragment.inputs.map((p, i) => [p.name || `arg${i}`, fmtArg(parsed!.args[i])])) : {};
  const description = decoded.kind
    ? `upgrade ${decoded.proxyName ?? "an unknown proxy"} (${decoded.kind} proxy ${decoded.proxy}${decoded.kind === "transparent" ? ` via ProxyAdmin ${decoded.target}` : ""}) to ${decoded.newImplementation}${decoded.contract ? ` (${decoded.contract})` : ""}, was ${decoded.oldImplementation ?? "?"}${decoded.initializer && decoded.initializer !== "0x" ? `, then call ${decoded.initializer}` : ", calling nothing after"}`
    : `call ${call.target} with data ${call.data} (not an upgrade)`;
  return { function: fn, args, description };
}

type StateChangeRow = z.infer<typeof StateChangeRow>;

/** The state diff as a signer reads it: decoded names and values, one line of meaning, bookkeeping marked. */
export function stateChangeRows(report: SimulationReport, record: ProposalRecord, timelock: string, safe: string): StateChangeRow[] {
  return report.stateDiff.map((c) => {
    const bookkeeping = isBookkeeping(c, report.operationId, timelock, safe);
    return {
      account: getAddress(c.account),
      accountLabel: c.accountLabel,
      slot: c.slot,
      variable: c.name?.path ?? null,
      before: c.before,
      after: c.after,
      decoded: c.decoded ? c.decoded.map((d) => `${d.path}: ${d.before} -> ${d.after}`).join("; ") : null,
      meaning: meaningOf(c, record, bookkeeping),
      bookkeeping,
    };
  });
}

function stateTable(rows: StateChangeRow[]): string[] {
  if (rows.length === 0) return ["No storage changes."];
  const ordered = [...rows.filter((c) => !c.bookkeeping), ...rows.filter((c) => c.bookkeeping)];
  return [
    "| Account | Slot | Variable | Before | After | Meaning |",
    "| --- | --- | --- | --- | --- | --- |",
    ...ordered.map((c) => `| ${cell(c.accountLabel)} \`${c.account}\` | \`${c.slot}\` | ${c.variable ? `\`${cell(c.variable)}\`` : "(unnamed)"} | \`${c.before}\` | \`${c.after}\` | ${cell(c.meaning)} |`),
  ];
}

/**
 * The expected diff of an upgrade not staged yet (the PR check): the same rows, permissions, probes and
 * findings as the packet, without a Safe transaction, for the PR comment.
 */
export function renderExpectedDiff(report: SimulationReport, record: ProposalRecord, timelock: string, safe: string): string {
  const rows = stateChangeRows(report, record, timelock, safe);
  const effects = effectsOf(report, timelock, safe);
  const L: string[] = [];
  L.push(`#### Expected state diff if this is staged (simulated on a fork of \`${report.network}\` at block ${report.forkBlock})`, "");
  L.push(`The implementations of this PR's build were deployed on the fork and the whole path ran there: the owners' approvals, the Safe's schedule, the delay, \`executeBatch\`. State-diff hash \`${effectsHash(effects)}\` (the signer packet's, when nothing on chain moves before stage).`, "");
  L.push(...stateTable(rows), "");
  L.push("Permission changes: " + (report.permissions.length ? report.permissions.map((x) => `**${inline(x.what)}**: ${inline(x.before)} -> ${inline(x.after)}`).join("; ") : "none."), "");
  L.push("Probes:", ...(report.probes.length ? report.probes.map((x) => `- ${x.ok ? "pass" : "**FAIL**"}: ${inline(x.name)} (${inline(x.detail)})`) : ["- not run"]), "");
  L.push(report.findings.length ? `**${report.findings.length} simulation finding(s):**` : "No simulation findings: the path completes, every write is allowed, no permission changes, every probe passes.");
  for (const f of report.findings) L.push(`- ${f.kind}: ${cell(f.message)}`);
  return L.join("\n");
}

export interface PacketInput {
  network: string;
  record: ProposalRecord;
  /** The schedule Safe transaction the packet pins (the record's latest). */
  safeTx: SafeTxRecord;
  report: SimulationReport;
  /** The deployment's timelock and Safe (the record's are claims). */
  timelock: string;
  safe: string;
}

/** What the record alone gives: header, Safe transaction with its hashes recomputed, the decoded calls. */
function packetHeader(network: string, record: ProposalRecord, safeTx: SafeTxRecord): Pick<SignerPacket, "version" | "proposal" | "network" | "chainId" | "safe" | "timelock" | "operationId" | "safeTx" | "innerCall"> {
  const tx: SafeTxData = {
    to: getAddress(safeTx.to),
    value: safeTx.value,
    data: safeTx.data,
    operation: safeTx.operation,
    safeTxGas: safeTx.safeTxGas,
    baseGas: safeTx.baseGas,
    gasPrice: safeTx.gasPrice,
    gasToken: getAddress(safeTx.gasToken),
    refundReceiver: getAddress(safeTx.refundReceiver),
    nonce: safeTx.nonce,
  };
  const hashes = safeTxHashes(BigInt(record.chainId), safeTx.safe, tx);
  const decoded = decodeProposal(record, safeTx);
  const batch = decodeSchedule(safeTx.data).batch;
  return {
    version: 1,
    proposal: record.id,
    network,
    chainId: record.chainId,
    safe: getAddress(safeTx.safe),
    timelock: getAddress(record.timelock),
    operationId: record.operationId,
    safeTx: { ...tx, ...hashes },
    innerCall: {
      function: decoded.function,
      operationId: decoded.operationId,
      delaySeconds: decoded.delaySeconds,
      salt: decoded.salt,
      predecessor: decoded.predecessor,
      calls: batch.calls.map((call, i) => ({ index: i, target: getAddress(call.target), value: call.value.toString(), ...describeCall(call, decoded.calls[i]!) })),
    },
  };
}

/**
 * Without a simulation (the operation has executed): the fields the record alone gives, and whether the
 * effectsHash is the hash of the pinned effects (pure).
 */
export function compareHeader(pinned: SignerPacket, network: string, record: ProposalRecord, safeTx: SafeTxRecord): { edited: string[]; hashMismatch: boolean } {
  return { edited: fieldDiffs(staticView(pinned), staticView(packetHeader(network, record, safeTx))), hashMismatch: pinned.effectsHash !== effectsHash(pinned.effects) };
}

/**
 * The packet of a proposal's schedule Safe transaction and a simulation of it. Every hash is recomputed
 * from the fields (never copied from the record), and the inner calls are decoded from the Safe
 * transaction's own data: what the packet shows is what is signed.
 */
export function buildSignerPacket(input: PacketInput): SignerPacket {
  const { record, safeTx, report } = input;
  const effects = effectsOf(report, input.timelock, input.safe);
  return {
    ...packetHeader(input.network, record, safeTx),
    run: {
      forkBlock: report.forkBlock,
      start: report.start,
      steps: report.steps.map((s) => ({ name: s.name, ok: s.ok, gasUsed: s.gasUsed, ...(s.revert ? { revert: s.revert } : {}), events: s.events })),
      notes: report.notes,
    },
    findings: report.findings.map((f) => ({ kind: f.kind, message: f.message })),
    probes: report.probes.map((p) => ({ name: p.name, ok: p.ok, detail: p.detail })),
    stateChanges: stateChangeRows(report, record, input.timelock, input.safe),
    unknownSlots: report.unknownSlots,
    permissions: report.permissions.map((p) => ({ what: p.what, before: p.before, after: p.after })),
    balances: report.balances.map((b) => ({ account: getAddress(b.account), before: b.before, after: b.after, delta: b.delta })),
    effects,
    effectsHash: effectsHash(effects),
  };
}

/** Every path where two JSON values differ (`a.b[2].c`), for naming what was edited. */
export function fieldDiffs(a: unknown, b: unknown, at = ""): string[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${at || "(root)"} (${a.length} entries, expected ${b.length})`];
    return a.flatMap((x, i) => fieldDiffs(x, b[i], `${at}[${i}]`));
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => fieldDiffs((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], at ? `${at}.${k}` : k));
  }
  return [at || "(root)"];
}

/** What the record alone determines: the header, the Safe transaction with its hashes, the decoded calls. */
function staticView(p: Pick<SignerPacket, "version" | "proposal" | "network" | "chainId" | "safe" | "timelock" | "operationId" | "safeTx" | "innerCall">): unknown {
  return { version: p.version, proposal: p.proposal, network: p.network, chainId: p.chainId, safe: p.safe, timelock: p.timelock, operationId: p.operationId, safeTx: p.safeTx, innerCall: p.innerCall };
}

/** What the simulation shows a signer, outside `run`: pinned rows (bookkeeping aside), permissions, balance deltas, probe verdicts. */
function shownView(p: SignerPacket): unknown {
  return {
    stateChanges: p.stateChanges.filter((c) => !c.bookkeeping),
    unknownSlots: p.unknownSlots,
    permissions: p.permissions,
    balances: p.balances.map((b) => ({ account: b.account, delta: b.delta })),
    // Probe details may carry the random stranger's address (masked); the rest of the text a signer reads is pinned.
    probes: p.probes.map((x) => ({ name: x.name, ok: x.ok, detail: x.detail.replace(/(?<![0-9a-fA-F])0x[0-9a-fA-F]{40}(?![0-9a-fA-F])/g, "0x(address)") })),
    // What the simulation found: the packet's own "do not sign" verdict, not free to drop.
    findings: p.findings,
  };
}

export interface PacketComparison {
  /** Fields of the pinned packet that are not what the record and the fresh simulation give, one line each. */
  edited: string[];
  /** What the batch does now that differs from what the packet pinned (compareEffects). */
  effects: string[];
  /** The pinned effectsHash is not the hash of the pinned effects. */
  hashMismatch: boolean;
}

/**
 * A pinned packet against the one rebuilt now from the record and a fresh simulation (pure). Reported:
 * a field of the header, Safe transaction, hashes or decoded calls that is not what the record gives
 * (edited by hand, or another Safe transaction); effects that differ from the fresh simulation's (the
 * world changed under the proposal, or they were edited); an effectsHash that is not the hash of the
 * pinned effects; shown rows that do not match the pinned effects. `run` is not compared.
 */
export function comparePackets(pinned: SignerPacket, fresh: SignerPacket): PacketComparison {
  const effects = compareEffects(pinned.effects, fresh.effects);
  const hashMismatch = pinned.effectsHash !== effectsHash(pinned.effects);
  const edited = [...fieldDiffs(staticView(pinned), staticView(fresh)), ...bookkeepingRowProblems(pinned)];
  // The rows a signer reads must say what the pinned effects say: against the fresh ones when the world
  // did not change, else at least against the pinned effects themselves.
  if (effects.length === 0) edited.push(...fieldDiffs(shownView(pinned), shownView(fresh)));
  else {
    const rows = pinned.stateChanges.filter((c) => !c.bookkeeping).map((c) => ({ account: c.account.toLowerCase(), slot: c.slot, variable: c.variable, before: c.before, after: c.after }));
    const want = pinned.effects.changes.map((c) => ({ ...c, account: c.account.toLowerCase() }));
    const byKey = (x: { account: string; slot: string }) => `${x.account.toLowerCase()}:${x.slot}`;
    const sorted = [...rows].sort((a, b) => (byKey(a) < byKey(b) ? -1 : byKey(a) > byKey(b) ? 1 : 0));
    edited.push(...fieldDiffs(sorted, want, "stateChanges").map((f) => `${f} (against the pinned effects)`));
  }
  return { edited, effects, hashMismatch };
}

/**
 * Record-, layout- and simulation-controlled text on one Markdown line: no line break (a new line could
 * start a forged heading or section), no HTML tag (`<details>` could fold the findings away).
 */
const inline = (s: string) => s.replace(/\r\n|[\r\n\u2028\u2029]/g, " ").replace(/</g, "&lt;");
const cell = (s: string) => inline(s).replace(/\|/g, "\\|");

/** The packet as Markdown: `<id>.validation.md`, the job summary, and what `verify` points signers at. */
/**
 * Whether the Markdown beside a packet is its rendering (pure): the `.md` is what a signer reads, so it
 * is checked like the JSON. Returns why not, or undefined when it is.
 */
export function markdownMismatch(pinned: SignerPacket, markdown: string | undefined): string | undefined {
  if (markdown === undefined) return "is missing";
  // A checkout with CRLF line endings (Windows, core.autocrlf) is the same document.
  return markdown.replace(/\r\n/g, "\n") === renderSignerPacket(pinned) ? undefined : "is not the rendering of the packet's JSON (edited by hand, or from another packet)";
}

export function renderSignerPacket(p: SignerPacket): string {
  const pinned = p.stateChanges.filter((c) => !c.bookkeeping);
  const L: string[] = [];
  L.push(`## Signer packet: proposal \`${p.proposal}\` on \`${p.network}\` (chain ${p.chainId})`, "");
  L.push("Compare these with what the hardware wallet shows before approving; `gatehouse verify` recomputes every one of them.", "");
  L.push("| Field | Value |", "| --- | --- |");
  const rows: [string, string][] = [
    ["Safe", `\`${p.safe}\``],
    ["Nonce", String(p.safeTx.nonce)],
    ["to", `\`${p.safeTx.to}\` (the TimelockController)`],
    ["value", p.safeTx.value],
    ["data", `\`${p.safeTx.data.length > 138 ? `${p.safeTx.data.slice(0, 138)}…` : p.safeTx.data}\` (${(p.safeTx.data.length - 2) / 2} bytes)`],
    ["operation", `${p.safeTx.operation} (${p.safeTx.operation === 0 ? "call" : "DELEGATECALL"})`],
    ["safeTxGas / baseGas / gasPrice", `${p.safeTx.safeTxGas} / ${p.safeTx.baseGas} / ${p.safeTx.gasPrice}`],
    ["gasToken / refundReceiver", `\`${p.safeTx.gasToken}\` / \`${p.safeTx.refundReceiver}\``],
    ["Domain hash", `\`${p.safeTx.domainHash}\``],
    ["Message hash", `\`${p.safeTx.messageHash}\``],
    ["safeTxHash", `\`${p.safeTx.safeTxHash}\``],
    ["Operation id", `\`${p.operationId}\``],
    ["State-diff hash", `\`${p.effectsHash}\``],
  ];
  L.push(...rows.map(([k, v]) => `| ${k} | ${cell(v)} |`), "");
  L.push(`### Inner call: \`${p.innerCall.function}\` on the timelock, delay ${p.innerCall.delaySeconds}s (${formatDuration(BigInt(p.innerCall.delaySeconds))})`, "");
  for (const c of p.innerCall.calls) {
    L.push(`${c.index + 1}. ${inline(c.description)}`);
    L.push(`   - \`${c.function ?? "unknown function"}\` on \`${c.target}\`${c.value !== "0" ? ` with ${c.value} wei` : ""}${Object.keys(c.args).length ? `: ${Object.entries(c.args).map(([k, v]) => `${k} = \`${v.length > 80 ? `${v.slice(0, 74)}…` : v}\``).join(", ")}` : ""}`);
  }
  L.push("", `### Expected state changes (${pinned.length} pinned; ${p.stateChanges.length - pinned.length} bookkeeping; ${p.unknownSlots} unnamed)`, "");
  L.push(...stateTable(p.stateChanges));
  L.push("", "### Permission changes", "");
  L.push(...(p.permissions.length ? p.permissions.map((x) => `- **${inline(x.what)}**: ${inline(x.before)} -> ${inline(x.after)}`) : ["None (Safe owners, threshold, modules, guard, fallback handler; timelock roles and delay; proxy owners and admins)."]));
  L.push("", "### Balance changes", "");
  L.push(...(p.balances.length ? p.balances.map((b) => `- \`${b.account}\`: ${b.before} -> ${b.after} wei (${b.delta})`) : ["None."]));
  L.push("", "### Post-upgrade probes", "");
  L.push(...(p.probes.length ? p.probes.map((x) => `- ${x.ok ? "pass" : "**FAIL**"}: ${inline(x.name)} (${inline(x.detail)})`) : ["Not run."]));
  L.push("", p.findings.length ? `### ${p.findings.length} finding(s): do not sign` : "### No findings in the simulation", "");
  for (const f of p.findings) L.push(`- ${inline(f.kind)}: ${inline(f.message)}`);
  L.push("", `<details><summary>How it was simulated (fork at block ${p.run.forkBlock}; shown, not pinned)</summary>`, "");
  L.push(`Started ${p.run.start === "propose" ? "from the owners' approvals of the schedule transaction" : "from the operation already scheduled, at its ETA"}.`, "");
  for (const s of p.run.steps) L.push(`- ${s.ok ? "success" : "REVERTED"}: ${inline(s.name)} (gas ${s.gasUsed})${s.revert ? `: ${inline(s.revert)}` : ""}`);
  for (const n of p.run.notes) L.push(`- note: ${inline(n)}`);
  L.push("", "</details>", "");
  return L.join("\n");
}

/**
 * The simulation findings that stop a proposal. A governance record (`gatehouse govern`) changes a
 * permission or the timelock's delay on purpose: verify judges those actions against the policy, so its
 * permission changes and writes are shown and pinned, and only reverts, failed probes and record
 * mismatches stop it.
 */
export function blockingFindings<F extends { kind: string; message: string }>(record: Pick<ProposalRecord, "kind">, findings: F[]): F[] {
  return record.kind === "governance" ? findings.filter((f) => f.kind === "revert" || f.kind === "probe" || f.kind === "record") : findings;
}

/** The Safe transaction a packet pins: the record's latest schedule transaction (none before propose). */
export function scheduleSafeTx(record: ProposalRecord): SafeTxRecord | undefined {
  return [...record.safeTransactions].reverse().find((t) => t.purpose === "schedule");
}

export function packetNotFound(file: string): GatehouseError {
  return new GatehouseError("FILE_NOT_FOUND", { file: displayPath(file), what: "signer packet (written by propose)" });
}
