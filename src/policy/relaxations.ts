import type { Policy } from "./schema.ts";

/**
 * Pure: what a pull request's policy gives up compared with the protected branch's policy. The PR
 * check runs the base branch's tooling and rules, so a PR cannot weaken a rule by editing it; but the
 * edit itself must not slip through either. Every relaxation is a finding named as such, so a human
 * decides (code-owner review), never the check. Tightening a rule is not a finding.
 *
 * Governance addresses, owners, the guardian, the compiler and the chain are compared for any change,
 * not only "weaker": the check cannot tell whether a new address is better, only that it is new.
 */

export type RelaxationKind =
  | "policy-added"
  | "policy-removed"
  | "min-delay-lowered"
  | "delay-lowered"
  | "min-threshold-lowered"
  | "threshold-lowered"
  | "unsafe-allow-added"
  | "forbidden-removed"
  | "max-code-size-raised"
  | "executor-opened"
  | "governance-changed"
  | "chain-changed"
  | "compiler-changed"
  | "contract-added"
  | "contract-removed"
  | "contract-changed"
  | "confirmations-lowered"
  | "notification-removed"
  | "protected-branch-changed"
  | "library-call-allowed"
  | "fallback-handler-allowed"
  | "policy-changed";

export interface Relaxation {
  kind: RelaxationKind;
  /** The policy field, `rules.minDelaySeconds` style. */
  path: string;
  message: string;
}

const show = (v: unknown): string => (v === undefined ? "(unset)" : JSON.stringify(v));
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Relaxations of `pr` against `base` (both already validated by the Policy schema, defaults applied). */
export function policyRelaxations(base: Policy | undefined, pr: Policy | undefined): Relaxation[] {
  if (!base && !pr) return [];
  if (!base) return [{ kind: "policy-added", path: "(file)", message: `a new policy: the PR puts network '${pr!.network}' under Gatehouse with rules nobody reviewed before` }];
  if (!pr) return [{ kind: "policy-removed", path: "(file)", message: `the PR removes the policy of network '${base.network}': its upgrades would no longer be checked` }];
  const out: Relaxation[] = [];
  const add = (kind: RelaxationKind, path: string, message: string) => out.push({ kind, path, message });
  const lowered = (kind: RelaxationKind, path: string, from: number, to: number) => {
    if (to < from) add(kind, path, `${path} lowered from ${from} to ${to}`);
  };
  const changed = (kind: RelaxationKind, path: string, from: unknown, to: unknown) => {
    if (!same(from, to)) add(kind, path, `${path} changed from ${show(from)} to ${show(to)}`);
  };

  changed("chain-changed", "network", base.network, pr.network);
  changed("chain-changed", "chainId", base.chainId, pr.chainId);

  const bg = base.governance;
  const pg = pr.governance;
  lowered("delay-lowered", "governance.delaySeconds", bg.delaySeconds, pg.delaySeconds);
  lowered("threshold-lowered", "governance.safe.threshold", bg.safe.threshold, pg.safe.threshold);
  changed("governance-changed", "governance.safe.owners", bg.safe.owners, pg.safe.owners);
  changed("governance-changed", "governance.safe.address", bg.safe.address, pg.safe.address);
  changed("governance-changed", "governance.timelock", bg.timelock, pg.timelock);
  changed("governance-changed", "governance.guardian", bg.guardian, pg.guardian);
  if (bg.executor !== pg.executor) {
    if (pg.executor === "open") add("executor-opened", "governance.executor", `governance.executor changed from "safe" to "open": anyone may execute a ready operation`);
    else changed("governance-changed", "governance.executor", bg.executor, pg.executor);
  }

  const br = base.rules;
  const pr_ = pr.rules;
  lowered("min-delay-lowered", "rules.minDelaySeconds", br.minDelaySeconds, pr_.minDelaySeconds);
  lowered("min-threshold-lowered", "rules.minThreshold", br.minThreshold, pr_.minThreshold);
  if (pr_.maxCodeSize > br.maxCodeSize) add("max-code-size-raised", "rules.maxCodeSize", `rules.maxCodeSize raised from ${br.maxCodeSize} to ${pr_.maxCodeSize}`);
  for (const flag of pr_.unsafeAllow.filter((f) => !br.unsafeAllow.includes(f))) add("unsafe-allow-added", "rules.unsafeAllow", `rules.unsafeAllow adds '${flag}': that upgrade-safety check would no longer be enforced`);
  for (const c of br.forbidden.filter((f) => !pr_.forbidden.includes(f))) add("forbidden-removed", "rules.forbidden", `rules.forbidden no longer forbids '${c}'`);

  for (const a of (pr_.allowedLibraryCalls ?? []).filter((x) => !(br.allowedLibraryCalls ?? []).some((y) => y.function === x.function))) {
    add("library-call-allowed", "rules.allowedLibraryCalls", `rules.allowedLibraryCalls lets check pass '${a.function}' ("${a.reason}"): a forbidden construct reachable through it would no longer be a finding`);
  }
  for (const h of (pg.safe.fallbackHandlers ?? []).filter((x) => !(bg.safe.fallbackHandlers ?? []).includes(x))) {
    add("fallback-handler-allowed", "governance.safe.fallbackHandlers", `governance.safe.fallbackHandlers accepts ${h}: doctor would no longer report that fallback handler on the Safe`);
  }
  if (base.protectedBranch !== pr.protectedBranch) {
    add("protected-branch-changed", "protectedBranch", `protectedBranch changed from '${base.protectedBranch}' to '${pr.protectedBranch}': verify, sign and the watcher would accept any commit of that branch as reviewed`);
  }

  changed("compiler-changed", "compiler", base.compiler, pr.compiler);

  const baseContracts = new Map(base.contracts.map((c) => [c.name, c]));
  const prContracts = new Map(pr.contracts.map((c) => [c.name, c]));
  for (const [name, c] of prContracts) {
    const b = baseContracts.get(name);
    if (!b) {
      add("contract-added", `contracts.${name}`, `a new governed contract '${name}' (${c.kind}${c.proxy ? ` at ${c.proxy}` : ""})`);
      continue;
    }
    // `contract` (the target implementation) is the upgrade itself, audited by the check; the rest says
    // which proxy is governed and how, and must not move under the reviewers' feet.
    changed("contract-changed", `contracts.${name}.kind`, b.kind, c.kind);
    changed("contract-changed", `contracts.${name}.proxy`, b.proxy, c.proxy);
    // An allowed upgrade initializer is a call the watcher will no longer alert on.
    for (const fn of (c.upgradeInitializers ?? []).filter((f) => !(b.upgradeInitializers ?? []).includes(f))) {
      add("contract-changed", `contracts.${name}.upgradeInitializers`, `contracts.${name}.upgradeInitializers allows '${fn}': an upgrade may call it without a watcher alert`);
    }
    // simulate: a newly allowed write is a state change that no longer counts as a finding; a dropped
    // probe is a post-upgrade expectation nobody checks any more.
    for (const v of (c.allowWrites ?? []).filter((w) => !(b.allowWrites ?? []).includes(w))) {
      add("contract-changed", `contracts.${name}.allowWrites`, `contracts.${name}.allowWrites allows writing '${v}': simulate will no longer report it`);
    }
    const prProbes = new Set((c.probes ?? []).map((p) => JSON.stringify(p)));
    for (const p of b.probes ?? []) {
      if (!prProbes.has(JSON.stringify(p))) add("contract-changed", `contracts.${name}.probes`, `contracts.${name}.probes drops or changes the probe ${p.call} == ${p.returns}`);
    }
  }
  for (const name of baseContracts.keys()) if (!prContracts.has(name)) add("contract-removed", `contracts.${name}`, `the governed contract '${name}' is removed from the policy: its upgrades would no longer be checked or watched`);

  lowered("confirmations-lowered", "watcher.confirmations", base.watcher.confirmations, pr.watcher.confirmations);
  const key = (n: Policy["notifications"][number]) => JSON.stringify(n);
  const prNotes = new Set(pr.notifications.map(key));
  for (const n of base.notifications) if (!prNotes.has(key(n))) add("notification-removed", "notifications", `the ${n.type} notification ${key(n)} is removed or changed: reviewers may no longer be told`);

  // Every other difference is named too, so that a field added to the policy later can never change
  // silently: the rules above decide relaxation or tightening only for the fields they know.
  for (const p of differingPaths(withoutKnown(base), withoutKnown(pr))) add("policy-changed", p, `${p} changed: a policy field no rule above judges; a human must decide`);
  return out;
}

/** Fields the rules above judge (a tightening of these is not a finding). Contracts are compared by name. */
const KNOWN: Record<string, readonly string[]> = {
  "": ["network", "chainId", "protectedBranch", "compiler", "notifications", "contracts"],
  governance: ["delaySeconds", "timelock", "guardian", "executor"],
  "governance.safe": ["threshold", "owners", "address", "fallbackHandlers"],
  rules: ["minDelaySeconds", "minThreshold", "maxCodeSize", "unsafeAllow", "forbidden", "allowedLibraryCalls"],
  watcher: ["confirmations"],
  contract: ["name", "contract", "kind", "proxy", "upgradeInitializers", "allowWrites", "probes"],
};

function omit(o: unknown, keys: readonly string[]): unknown {
  if (!o || typeof o !== "object") return o;
  return Object.fromEntries(Object.entries(o as Record<string, unknown>).filter(([k]) => !keys.includes(k)));
}

function withoutKnown(p: Policy): unknown {
  const top = omit(p, KNOWN[""]!) as Record<string, unknown>;
  const g = omit(p.governance, KNOWN.governance!) as Record<string, unknown>;
  return {
    ...top,
    governance: { ...g, safe: omit(p.governance.safe, KNOWN["governance.safe"]!) },
    rules: omit(p.rules, KNOWN.rules!),
    watcher: omit(p.watcher, KNOWN.watcher!),
    contracts: Object.fromEntries(p.contracts.map((c) => [c.name, omit(c, KNOWN.contract!)])),
  };
}

/** Paths (`a.b.c`) where two JSON values differ; a contract missing on one side is judged above. */
function differingPaths(a: unknown, b: unknown, at = ""): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (v: unknown) => !!v && typeof v === "object" && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return [at || "(policy)"];
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  return [...new Set([...Object.keys(ao), ...Object.keys(bo)])].flatMap((k) => {
    if (at === "contracts" && (!(k in ao) || !(k in bo))) return [];
    return differingPaths(ao[k], bo[k], at ? `${at}.${k}` : k);
  });
}
