import { toBeHex } from "ethers";
import { decodeValue, SlotNamer, type SlotName } from "./layout.ts";

/**
 * The state diff, the permission diff and the allowed-writes check (pure): from the written slots with
 * their before/after words and a namer per account, to rows a reviewer reads and findings a gate acts on.
 */

export type AccountRole = { kind: "proxy"; name: string } | { kind: "proxyAdmin"; name: string } | { kind: "timelock" } | { kind: "safe" } | { kind: "other" };

export interface SlotChange {
  account: string;
  /** `vault (proxy)`, `timelock`, `Safe`, or the address. */
  accountLabel: string;
  slot: string;
  name?: SlotName;
  before: string;
  after: string;
  /** Decoded values per packed variable, `before → after`. */
  decoded?: { path: string; before: string; after: string }[];
}

export interface Finding {
  kind: "revert" | "write" | "probe" | "permission" | "record";
  message: string;
}

export function word(hex: string): string {
  return toBeHex(BigInt(hex), 32);
}

export function roleLabel(role: AccountRole, account: string): string {
  switch (role.kind) {
    case "proxy":
      return `${role.name} (proxy)`;
    case "proxyAdmin":
      return `${role.name} ProxyAdmin`;
    case "timelock":
      return "timelock";
    case "safe":
      return "Safe";
    default:
      return account;
  }
}

/** Rows of the state diff: only slots whose value changed (a write of the same value, or one undone by a revert, is no change). */
export function stateDiff(
  writes: { account: string; slot: bigint; before: string; after: string }[],
  roleOf: (account: string) => AccountRole,
  namerOf: (account: string) => SlotNamer[] ,
): SlotChange[] {
  return writes
    .filter((w) => BigInt(w.before) !== BigInt(w.after))
    .map((w) => {
      const name = namerOf(w.account).map((n) => n.name(w.slot)).find((n) => n !== undefined);
      const before = word(w.before);
      const after = word(w.after);
      return {
        account: w.account,
        accountLabel: roleLabel(roleOf(w.account), w.account),
        slot: toBeHex(w.slot, 32),
        ...(name ? { name, decoded: name.parts.map((p) => ({ path: p.path, before: decodeValue(before, p), after: decodeValue(after, p) })) } : {}),
        before,
        after,
      };
    });
}

export interface WriteRules {
  timelock: string;
  operationId: string;
  safe: string;
  /** safeTxHashes the simulation approved and executed (their approvals are the Safe's bookkeeping). */
  safeTxHashes: string[];
  /** Governed proxies and the variables their initializer may write (policy `allowWrites`). */
  proxies: { address: string; name: string; allow: string[] }[];
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Allowed writes: a governed proxy's ERC-1967 implementation slot and the variables the policy lets its
 * initializer write; the timelock's `_timestamps[operationId]`; the Safe's nonce and its owners'
 * approvals of the simulated transactions. Any other change is a finding naming account, slot and variable.
 */
export function disallowedWrites(changes: SlotChange[], rules: WriteRules): Finding[] {
  const allowed = (c: SlotChange): boolean => {
    const v = c.name?.variable;
    const path = c.name?.path ?? "";
    const proxy = rules.proxies.find((p) => same(p.address, c.account));
    if (proxy) return v !== undefined && (v === "erc1967.implementation" || proxy.allow.includes(v));
    if (same(c.account, rules.timelock)) return path === `_timestamps[${rules.operationId.toLowerCase()}]`;
    if (same(c.account, rules.safe)) {
      if (v === "nonce") return true;
      return v === "approvedHashes" && rules.safeTxHashes.some((h) => path.toLowerCase().endsWith(`[${h.toLowerCase()}]`));
    }
    return false;
  };
  return changes
    .filter((c) => !allowed(c))
    .map((c) => ({
      kind: "write" as const,
      message: `write not allowed: ${c.accountLabel} ${c.account} slot ${c.slot} (${c.name ? c.name.path : "unknown variable"}): ${c.decoded ? c.decoded.map((d) => `${d.before} -> ${d.after}`).join(", ") : `${c.before} -> ${c.after}`}`,
    }));
}

export interface PermissionChange {
  what: string;
  before: string;
  after: string;
}

/** Permissions are flat `what → value` maps read before and after; every difference is reported. */
export function permissionDiff(before: Record<string, string>, after: Record<string, string>): PermissionChange[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.filter((k) => (before[k] ?? "(none)") !== (after[k] ?? "(none)")).map((k) => ({ what: k, before: before[k] ?? "(none)", after: after[k] ?? "(none)" }));
}

export interface BalanceChange {
  account: string;
  before: string;
  after: string;
  delta: string;
}

export function balanceChanges(rows: { account: string; before: bigint; after: bigint }[]): BalanceChange[] {
  return rows
    .filter((r) => r.before !== r.after)
    .map((r) => ({ account: r.account, before: r.before.toString(), after: r.after.toString(), delta: `${r.after > r.before ? "+" : ""}${(r.after - r.before).toString()}` }));
}
