import { Interface, ZeroAddress, formatEther, getAddress } from "ethers";
import type { GovernanceAction } from "../records/proposal.ts";
import { ROLES, formatDuration, timelockInterface } from "../timelock/calls.ts";

/**
 * Governance changes as timelock operations (pure): the typed actions `doctor` recommends, their calls,
 * and the rules a change must follow to be policy-consistent. Staging refuses a change that breaks them;
 * the watcher applies the same rules to the calldata decoded from the chain, never to the record's words.
 *
 * Every action is a call FROM the timelock: to itself (updateDelay, grantRole, revokeRole: the timelock
 * administers itself) or to a governed proxy (unpause: only the timelock may unpause). Changing the Safe's
 * owners or threshold is not one of them: the Safe's OwnerManager functions are `authorized`
 * (msg.sender must be the Safe itself), and the timelock is not a module of the Safe, so a timelock
 * operation calling addOwnerWithThreshold/removeOwner/swapOwner/changeThreshold would revert (GS031).
 * The route is a Safe transaction from the Safe to itself, signed by the current threshold of owners.
 */

export type RoleName = "PROPOSER_ROLE" | "EXECUTOR_ROLE" | "CANCELLER_ROLE" | "DEFAULT_ADMIN_ROLE";

export type GovernanceInput =
  | { action: "updateDelay"; delaySeconds: bigint | number | string }
  | { action: "grantRole" | "revokeRole"; role: RoleName; account: string }
  | { action: "unpause"; proxy: string };

export const pauseInterface = new Interface(["function unpause()", "function pause()"]);

/** The policy's view of the governance topology: who must hold which timelock role, the minimum delay, the proxies. */
export interface GovernanceRules {
  timelock: string;
  safe: string;
  /** Resolved guardian addresses (CANCELLER_ROLE). */
  cancellers: string[];
  /** Resolved EXECUTOR_ROLE holders (the Safe, or address(0) when open). */
  executors: string[];
  /** The policy's rules.minDelaySeconds; undefined: not known, so no delay change can be judged consistent. */
  minDelaySeconds?: number;
  proxies: { name: string; address: string }[];
}

const same = (a: string, b: string) => getAddress(a) === getAddress(b);

/** The typed action with its call (target, value 0, calldata), derived from its fields. */
export function governanceAction(input: GovernanceInput, rules: Pick<GovernanceRules, "timelock" | "proxies">): GovernanceAction {
  const timelock = getAddress(rules.timelock);
  if (input.action === "updateDelay") {
    const delay = BigInt(input.delaySeconds);
    return { action: "updateDelay", delaySeconds: delay.toString(), call: { target: timelock, value: "0", data: timelockInterface.encodeFunctionData("updateDelay", [delay]) } };
  }
  if (input.action === "unpause") {
    const proxy = rules.proxies.find((p) => p.name === input.proxy);
    if (!proxy) throw new Error(`no governed proxy named '${input.proxy}'`);
    return { action: "unpause", proxy: proxy.name, proxyAddress: getAddress(proxy.address), call: { target: getAddress(proxy.address), value: "0", data: pauseInterface.encodeFunctionData("unpause", []) } };
  }
  const account = getAddress(input.account);
  return { action: input.action, role: input.role, account, call: { target: timelock, value: "0", data: timelockInterface.encodeFunctionData(input.action, [ROLES[input.role], account]) } };
}

/** What a call does as a governance change, decoded from its calldata; undefined: not a governance call. */
export type DecodedGovernance =
  | { action: "updateDelay"; delaySeconds: bigint }
  | { action: "grantRole" | "revokeRole"; role: string; roleName?: RoleName; account: string }
  | { action: "unpause"; proxy: string; proxyName?: string };

export function decodeGovernanceCall(call: { target: string; data: string }, rules: Pick<GovernanceRules, "timelock" | "proxies">): DecodedGovernance | undefined {
  if (same(call.target, rules.timelock)) {
    let parsed: ReturnType<Interface["parseTransaction"]> = null;
    try {
      parsed = timelockInterface.parseTransaction({ data: call.data });
    } catch {
      return undefined;
    }
    if (parsed?.name === "updateDelay") return { action: "updateDelay", delaySeconds: parsed.args[0] as bigint };
    if (parsed?.name === "grantRole" || parsed?.name === "revokeRole") {
      const role = (parsed.args[0] as string).toLowerCase();
      const roleName = (Object.entries(ROLES).find(([, h]) => h.toLowerCase() === role)?.[0] as RoleName | undefined) ?? undefined;
      return { action: parsed.name, role, ...(roleName ? { roleName } : {}), account: getAddress(parsed.args[1] as string) };
    }
    return undefined;
  }
  if (call.data.slice(0, 10) === pauseInterface.getFunction("unpause")!.selector && call.data.length === 10) {
    const proxy = rules.proxies.find((p) => same(p.address, call.target));
    return { action: "unpause", proxy: getAddress(call.target), ...(proxy ? { proxyName: proxy.name } : {}) };
  }
  return undefined;
}

/** The holders of each timelock role the policy wants (the timelock administers itself). */
function policyHolders(rules: GovernanceRules): Record<RoleName, string[]> {
  return { PROPOSER_ROLE: [rules.safe], CANCELLER_ROLE: rules.cancellers, EXECUTOR_ROLE: rules.executors, DEFAULT_ADMIN_ROLE: [rules.timelock] };
}

export interface GovernanceVerdict {
  ok: boolean;
  /** Plain words: what the call does, and why it is or is not consistent with the policy. */
  detail: string;
  kind: "delay-change" | "role-change" | "not-an-upgrade";
}

/** Whether a decoded governance change keeps the topology the policy describes (pure). */
export function governanceVerdict(g: DecodedGovernance, rules: GovernanceRules, value = "0"): GovernanceVerdict {
  const sends = value !== "0" ? `; it also sends ${formatEther(BigInt(value))} ETH, which no governance change does` : "";
  if (g.action === "updateDelay") {
    const min = rules.minDelaySeconds;
    const ok = min !== undefined && g.delaySeconds >= BigInt(min) && value === "0";
    return {
      ok,
      kind: "delay-change",
      detail: `updateDelay to ${g.delaySeconds}s (${formatDuration(g.delaySeconds)}) on the timelock: ${min === undefined ? "the policy's minimum delay is unknown" : g.delaySeconds >= BigInt(min) ? `at least the policy's minimum of ${min}s` : `BELOW the policy's minimum of ${min}s (rules.minDelaySeconds): it shortens the time anyone has to review and cancel`}${sends}`,
    };
  }
  if (g.action === "unpause") {
    const ok = g.proxyName !== undefined && value === "0";
    return { ok, kind: "not-an-upgrade", detail: `unpause() on ${g.proxyName ? `governed proxy ${g.proxyName} (${g.proxy})` : `${g.proxy}, which is NOT a governed proxy`}${sends}` };
  }
  const holders = g.roleName ? policyHolders(rules)[g.roleName] : undefined;
  const listed = holders?.some((h) => same(h, g.account)) ?? false;
  const role = g.roleName ?? `unknown role ${g.role}`;
  const base = `${g.action} ${role} ${g.action === "grantRole" ? "to" : "from"} ${g.account} on the timelock`;
  if (!holders) return { ok: false, kind: "role-change", detail: `${base}: not a role of the policy's topology${sends}` };
  const policyText = `the policy's ${role} holders are ${holders.map((h) => (same(h, ZeroAddress) ? "anyone (address(0))" : h)).join(", ")}`;
  if (g.action === "grantRole") {
    return { ok: listed && value === "0", kind: "role-change", detail: `${base}: ${listed ? `consistent with the policy (${policyText})` : `NOT a policy holder (${policyText}): it gives the role to an address the policy does not name`}${sends}` };
  }
  return { ok: !listed && value === "0", kind: "role-change", detail: `${base}: ${listed ? `it removes a holder the policy requires (${policyText})` : `removes a holder the policy does not name (${policyText})`}${sends}` };
}

/** Policy-consistency of typed actions at stage time: the same rules, applied to the calls derived from them. */
export function governanceProblems(actions: GovernanceAction[], rules: GovernanceRules): string[] {
  const problems: string[] = [];
  for (const a of actions) {
    const decoded = decodeGovernanceCall(a.call, rules);
    if (!decoded) {
      problems.push(`${a.action}: its call is not a governance call Gatehouse knows`);
      continue;
    }
    const v = governanceVerdict(decoded, rules, a.call.value);
    if (!v.ok) problems.push(v.detail);
  }
  return problems;
}

/** Every action's call is the one its typed fields derive (the record's calls are not trusted as written). */
export function governanceCallProblems(actions: GovernanceAction[], rules: Pick<GovernanceRules, "timelock" | "proxies">): string[] {
  const problems: string[] = [];
  actions.forEach((a, i) => {
    let want: GovernanceAction;
    try {
      want = governanceAction(a.action === "unpause" ? { action: "unpause", proxy: a.proxy } : a.action === "updateDelay" ? { action: "updateDelay", delaySeconds: a.delaySeconds } : { action: a.action, role: a.role, account: a.account }, rules);
    } catch (e) {
      problems.push(`action ${i + 1} (${a.action}): ${(e as Error).message}`);
      return;
    }
    if (!same(want.call.target, a.call.target) || want.call.data !== a.call.data || a.call.value !== "0" || (a.action === "unpause" && !same(a.proxyAddress, (want as { proxyAddress: string }).proxyAddress))) {
      problems.push(`action ${i + 1} (${a.action}): its call is not the one its fields say (want ${want.call.data.slice(0, 10)}… to ${want.call.target})`);
    }
  });
  return problems;
}
