import { Contract, ZeroAddress, getAddress } from "ethers";
import { resolveAccount } from "../chain/context.ts";
import { readSafe } from "../safe/kit.ts";
import { ROLES, UPGRADE_ABI } from "../timelock/calls.ts";
import { scanFrom, type Setup } from "./setup.ts";

/**
 * `gatehouse doctor`: reads the governance topology from the chain and reports each deviation from the
 * policy. Role holders come from the timelock's RoleGranted/RoleRevoked history, since AccessControl
 * cannot enumerate them.
 */
export interface Drift {
  rule: string;
  subject: string;
  message: string;
  remedy: string;
}

const ROLE_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ROLES).map(([name, hash]) => [hash, name]));

export async function roleHolders(timelock: Contract, fromBlock = 0): Promise<Map<string, Set<string>>> {
  const [granted, revoked] = await Promise.all([
    timelock.queryFilter(timelock.filters.RoleGranted!(), fromBlock, "latest"),
    timelock.queryFilter(timelock.filters.RoleRevoked!(), fromBlock, "latest"),
  ]);
  const events = [...granted, ...revoked].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
  const holders = new Map<string, Set<string>>();
  for (const e of events) {
    const { role, account } = (e as unknown as { args: { role: string; account: string } }).args;
    const set = holders.get(role) ?? new Set<string>();
    if ((e as unknown as { fragment: { name: string } }).fragment.name === "RoleGranted") set.add(getAddress(account));
    else set.delete(getAddress(account));
    holders.set(role, set);
  }
  return holders;
}

export async function doctor(setup: Setup): Promise<Drift[]> {
  const { ctx, policy, deployment, timelock } = setup;
  const provider = ctx.ethers.provider;
  const drifts: Drift[] = [];
  const add = (rule: string, subject: string, message: string, remedy: string) => drifts.push({ rule, subject, message, remedy });
  const timelockAddress = getAddress(deployment.timelock.address);
  const safeAddress = getAddress(deployment.safe.address);
  const isEoa = async (a: string) => a !== ZeroAddress && (await provider.getCode(a)) === "0x";

  const holders = await roleHolders(timelock, scanFrom(setup));
  for (const [role, accounts] of holders) {
    const name = ROLE_NAMES[role] ?? role;
    for (const account of accounts) {
      if ((role === ROLES.DEFAULT_ADMIN_ROLE || role === ROLES.PROPOSER_ROLE) && (await isEoa(account))) {
        add(`eoa-${name === "DEFAULT_ADMIN_ROLE" ? "admin" : "proposer"}`, account, `the EOA ${account} holds ${name} on the timelock`, `schedule revokeRole(${name}, ${account}) through the timelock, or have the key holder renounceRole`);
      } else if (role === ROLES.DEFAULT_ADMIN_ROLE && account !== timelockAddress) {
        add("extra-admin", account, `${account} holds DEFAULT_ADMIN_ROLE besides the timelock itself`, "revoke it through the timelock");
      } else if (role === ROLES.PROPOSER_ROLE && account !== safeAddress) {
        add("extra-proposer", account, `${account} holds PROPOSER_ROLE besides the Safe`, "revoke it through the timelock");
      }
    }
  }
  if (!(await timelock.hasRole(ROLES.PROPOSER_ROLE, safeAddress))) add("safe-not-proposer", safeAddress, `the Safe ${safeAddress} does not hold PROPOSER_ROLE`, "grant it through the timelock");
  for (const g of policy.governance.guardian.map((r) => resolveAccount(ctx, r))) {
    if (!(await timelock.hasRole(ROLES.CANCELLER_ROLE, g))) add("guardian-not-canceller", g, `the guardian ${g} does not hold CANCELLER_ROLE`, "grant it through the timelock");
  }
  const open = (await timelock.hasRole(ROLES.EXECUTOR_ROLE, ZeroAddress)) as boolean;
  if (policy.governance.executor === "open" && !open) add("executor-mode", "EXECUTOR_ROLE", "the policy says anyone may execute, but EXECUTOR_ROLE is not open", "grant EXECUTOR_ROLE to address(0) through the timelock");
  if (policy.governance.executor === "safe" && open) add("executor-mode", "EXECUTOR_ROLE", "the policy says only the Safe executes, but EXECUTOR_ROLE is open to anyone", "revoke EXECUTOR_ROLE from address(0) through the timelock");
  // With `executor: safe` and the Safe without EXECUTOR_ROLE, nobody can ever execute a scheduled operation.
  if (policy.governance.executor === "safe" && !open && !(await timelock.hasRole(ROLES.EXECUTOR_ROLE, safeAddress))) {
    add("executor-mode", safeAddress, `the policy says the Safe executes, but the Safe ${safeAddress} does not hold EXECUTOR_ROLE: no operation can be executed`, "grant EXECUTOR_ROLE to the Safe through the timelock");
  }

  const minDelay = (await timelock.getMinDelay()) as bigint;
  if (minDelay < BigInt(policy.rules.minDelaySeconds)) {
    add("delay-below-minimum", timelockAddress, `the timelock's delay is ${minDelay}s, below the policy minimum of ${policy.rules.minDelaySeconds}s`, "schedule updateDelay through the timelock");
  }
  const safe = await readSafe(ctx, safeAddress);
  if (safe.threshold < policy.rules.minThreshold) {
    add("threshold-below-minimum", safeAddress, `the Safe's threshold is ${safe.threshold}, below the policy minimum of ${policy.rules.minThreshold}`, "raise it with a Safe changeThreshold transaction");
  }

  for (const c of policy.contracts) {
    const proxy = c.proxy ?? deployment.proxies[c.name]?.address;
    if (!proxy) {
      add("proxy-missing", c.name, `the governed proxy '${c.name}' is not deployed`, "run `gatehouse deploy`");
      continue;
    }
    const authorityAddress = c.kind === "uups" ? proxy : await ctx.up.erc1967.getAdminAddress(proxy);
    let owner: string | undefined;
    try {
      owner = getAddress((await new Contract(authorityAddress, UPGRADE_ABI, provider).owner()) as string);
    } catch {
      owner = undefined;
    }
    if (owner !== timelockAddress) {
      const what = c.kind === "uups" ? `the UUPS proxy '${c.name}' (${proxy}) is owned by ${owner ?? "nobody readable"}` : `the ProxyAdmin ${authorityAddress} of '${c.name}' is owned by ${owner ?? "nobody readable"}`;
      add("proxy-authority", c.name, `${what}, not the timelock`, "transfer ownership to the timelock");
    }
  }
  return drifts;
}
