import { keccak256, toUtf8Bytes } from "ethers";
import type { SimulationReport } from "./simulate.ts";
import type { PermissionChange, SlotChange } from "./diff.ts";

/**
 * The effects of a proposal: the part of a simulation that a signer pins in the signer packet and that
 * every later re-simulation (verify, sign, the watcher) must reproduce. Pure.
 *
 * Left out on purpose, because they depend on when and by whom the batch runs rather than on what it
 * does: the pipeline's own bookkeeping (the operation's timelock timestamp, the Safe's nonce and its
 * owners' approvals), gas, the fork block, and the random stranger address of the takeover probes.
 * Whether the path started from the owners' approvals or from an already scheduled operation does not
 * change the effects either, so a packet made at stage compares with a re-simulation at the ETA.
 */
export interface ProposalEffects {
  version: 1;
  operationId: string;
  /** Every storage change but the bookkeeping above, sorted by account then slot. */
  changes: { account: string; slot: string; variable: string | null; before: string; after: string }[];
  permissions: PermissionChange[];
  balances: { account: string; delta: string }[];
  probes: { name: string; ok: boolean }[];
  /** Steps that reverted, by their decoded reason (the step names carry nonces and hashes, so only reasons). */
  reverts: string[];
}

/** Timelock and Safe slots that only record the pipeline's own progress. */
export function isBookkeeping(c: SlotChange, operationId: string, timelock: string, safe: string): boolean {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const v = c.name?.variable;
  if (same(c.account, timelock)) return c.name?.path === `_timestamps[${operationId.toLowerCase()}]`;
  if (same(c.account, safe)) return v === "nonce" || v === "approvedHashes";
  return false;
}

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);

/** The effects of a simulation of the proposal through the given timelock and Safe. */
export function effectsOf(report: SimulationReport, timelock: string, safe: string): ProposalEffects {
  return {
    version: 1,
    operationId: report.operationId,
    changes: report.stateDiff
      .filter((c) => !isBookkeeping(c, report.operationId, timelock, safe))
      .map((c) => ({ account: c.account, slot: c.slot, variable: c.name?.path ?? null, before: c.before, after: c.after }))
      .sort(byKey((c) => `${c.account.toLowerCase()}:${c.slot}`)),
    permissions: [...report.permissions].sort(byKey((p) => p.what)),
    balances: report.balances.map((b) => ({ account: b.account, delta: b.delta })).sort(byKey((b) => b.account.toLowerCase())),
    probes: report.probes.map((p) => ({ name: p.name, ok: p.ok })).sort(byKey((p) => p.name)),
    reverts: report.steps.filter((s) => !s.ok).map((s) => s.revert ?? "reverted"),
  };
}

/** Canonical JSON (keys sorted at every level): equal effects give equal text on every machine. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** The normalized state-diff hash a packet pins: keccak256 of the canonical JSON of the effects. */
export function effectsHash(effects: ProposalEffects): string {
  return keccak256(toUtf8Bytes(canonicalJson(effects)));
}

/**
 * What differs between the effects a packet pinned and a re-simulation's, one line each, in words a
 * signer reads. Empty when they are the same.
 */
export function compareEffects(pinned: ProposalEffects, now: ProposalEffects): string[] {
  const out: string[] = [];
  if (pinned.operationId.toLowerCase() !== now.operationId.toLowerCase()) out.push(`operation id: pinned ${pinned.operationId}, now ${now.operationId}`);
  const rows = <T>(what: string, a: T[], b: T[], key: (t: T) => string, show: (t: T) => string) => {
    const A = new Map(a.map((t) => [key(t), t]));
    const B = new Map(b.map((t) => [key(t), t]));
    for (const [k, t] of A) {
      const u = B.get(k);
      if (!u) out.push(`${what} ${k}: pinned ${show(t)}, no longer happens`);
      else if (canonicalJson(t) !== canonicalJson(u)) out.push(`${what} ${k}: pinned ${show(t)}, now ${show(u)}`);
    }
    for (const [k, u] of B) if (!A.has(k)) out.push(`${what} ${k}: not pinned, now ${show(u)}`);
  };
  rows("storage", pinned.changes, now.changes, (c) => `${c.account} ${c.variable ?? c.slot}`, (c) => `${c.before} -> ${c.after}`);
  rows("permission", pinned.permissions, now.permissions, (p) => p.what, (p) => `${p.before} -> ${p.after}`);
  rows("balance", pinned.balances, now.balances, (b) => b.account, (b) => b.delta);
  rows("probe", pinned.probes, now.probes, (p) => p.name, (p) => (p.ok ? "pass" : "FAIL"));
  if (canonicalJson(pinned.reverts) !== canonicalJson(now.reverts)) out.push(`reverts: pinned [${pinned.reverts.join("; ") || "none"}], now [${now.reverts.join("; ") || "none"}]`);
  return out;
}
