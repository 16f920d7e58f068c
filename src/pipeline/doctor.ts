import { Contract, ZeroAddress, getAddress, keccak256 } from "ethers";
import { resolveAccount } from "../chain/context.ts";
import { listProposals } from "../records/proposal.ts";
import { compareSafeConfig, readSafeConfig, type SafeConfig } from "../safe/config.ts";
import { ROLES, UPGRADE_ABI, upgradeInterface } from "../timelock/calls.ts";
import { scanFrom, type Setup } from "./setup.ts";
import { readPauseState, type PauseState } from "./pause.ts";

/**
 * `gatehouse doctor`: reads the governance topology from the chain (an effectful `readTopology`) and
 * compares it with the policy (a pure `diagnose`). Every governance value of the policy is compared for
 * equality, not only against the rules' minimums; the deployment record only says where to look (and the
 * initial implementations), the chain says what is.
 */
export interface Drift {
  rule: string;
  subject: string;
  message: string;
  remedy: string;
}

export const ROLE_NAMES: Record<string, string> = Object.fromEntries(Object.entries(ROLES).map(([name, hash]) => [hash, name]));

/** Current holders of every role, replayed from RoleGranted/RoleRevoked (AccessControl cannot enumerate them). */
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

/** An upgrade the timelock executed (CallExecuted of upgradeToAndCall / ProxyAdmin.upgradeAndCall). */
export interface ExecutedUpgrade {
  proxy: string;
  implementation: string;
  operationId: string;
  block: number;
}

/** Every upgrade the timelock executed, oldest first: the governed path is the only legitimate one. */
export async function executedUpgrades(timelock: Contract, fromBlock = 0): Promise<ExecutedUpgrade[]> {
  const logs = await timelock.queryFilter(timelock.filters.CallExecuted!(), fromBlock, "latest");
  const out: ExecutedUpgrade[] = [];
  for (const e of logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)) {
    const { id, target, data } = (e as unknown as { args: { id: string; target: string; data: string } }).args;
    const call = upgradeInterface.parseTransaction({ data });
    if (call?.name === "upgradeToAndCall") out.push({ proxy: getAddress(target), implementation: getAddress(call.args[0] as string), operationId: id, block: e.blockNumber });
    else if (call?.name === "upgradeAndCall") out.push({ proxy: getAddress(call.args[0] as string), implementation: getAddress(call.args[1] as string), operationId: id, block: e.blockNumber });
  }
  return out;
}

/** What `doctor` read from the chain. */
export interface TopologyView {
  timelock: string;
  /** keccak256 of the timelock's runtime code, and of the project's compiled TimelockController (undefined when not built). */
  timelockCodeHash: string;
  timelockArtifactCodeHash?: string;
  minDelay: number;
  roles: Map<string, Set<string>>;
  /** Accounts holding DEFAULT_ADMIN_ROLE or PROPOSER_ROLE that have no code (EOAs). */
  eoas: Set<string>;
  /** Set when the record's timelock deployment block is after the timelock existed (roles were replayed from genesis instead). */
  recordedDeploymentBlock?: number;
  /** Undefined when only the timelock is compared (deploy adopting a timelock). */
  safe?: SafeConfig;
  proxies: {
    name: string;
    kind: "uups" | "transparent";
    address?: string;
    /** The UUPS proxy itself, or the Transparent proxy's ProxyAdmin. */
    authority?: string;
    owner?: string;
    implementation?: string;
    /** The implementation the governed path put there: the last executed upgrade, else the initial one. */
    expected?: { implementation: string; source: string };
    /** Who may pause and unpause, read from the proxy (absent when its implementation has no guardian pause). */
    pause?: PauseState;
  }[];
}

/** The policy, resolved to addresses: what the chain should hold. */
export interface TopologyExpectation {
  safe: { address: string; owners: string[]; threshold: number; fallbackHandlers?: string[] };
  /** The policy's own addresses, where it names them (compared with the deployment record's). */
  policySafe?: string;
  policyTimelock?: string;
  guardians: string[];
  executor: "safe" | "open";
  delaySeconds: number;
  minDelaySeconds: number;
  minThreshold: number;
}

export async function readTopology(setup: Setup): Promise<TopologyView> {
  const { ctx, policy, deployment, timelock } = setup;
  const provider = ctx.ethers.provider;
  const timelockAddress = getAddress(deployment.timelock.address);
  // The record's deployment block is a claim: a later one would hide earlier role grants from the replay.
  // Scan from genesis unless the chain shows the timelock had no code just before it (needs an archive node).
  let from = scanFrom(setup);
  let scanStartWrong = false;
  if (from > 0) {
    const before = await provider.getCode(timelockAddress, from - 1).catch(() => undefined);
    if (before !== "0x") {
      scanStartWrong = before !== undefined;
      from = 0;
    }
  }
  const [roles, upgrades, minDelay, safe, timelockCode, artifact] = await Promise.all([
    roleHolders(timelock, from),
    executedUpgrades(timelock, from),
    timelock.getMinDelay() as Promise<bigint>,
    readSafeConfig(provider, deployment.safe.address),
    provider.getCode(timelockAddress),
    ctx.readArtifact("TimelockController").catch(() => undefined),
  ]);
  const eoas = new Set<string>();
  for (const role of [ROLES.DEFAULT_ADMIN_ROLE, ROLES.PROPOSER_ROLE]) {
    for (const a of roles.get(role) ?? []) if (a !== ZeroAddress && (await provider.getCode(a)) === "0x") eoas.add(a);
  }
  const proposalOf = new Map<string, string>();
  for (const { record } of listProposals(setup.root, ctx.network)) proposalOf.set(record.operationId.toLowerCase(), record.id);

  const proxies: TopologyView["proxies"] = [];
  for (const c of policy.contracts) {
    const address = c.proxy ?? deployment.proxies[c.name]?.address;
    if (!address || (await provider.getCode(address)) === "0x") {
      proxies.push({ name: c.name, kind: c.kind });
      continue;
    }
    const proxy = getAddress(address);
    const authority = c.kind === "uups" ? proxy : getAddress(await ctx.up.erc1967.getAdminAddress(proxy));
    let owner: string | undefined;
    try {
      owner = getAddress((await new Contract(authority, UPGRADE_ABI, provider).owner!()) as string);
    } catch {
      owner = undefined;
    }
    const implementation = getAddress(await ctx.up.erc1967.getImplementationAddress(proxy));
    const last = upgrades.filter((u) => u.proxy === proxy).at(-1);
    const initial = deployment.proxies[c.name]?.initialImplementation;
    const expected = last
      ? { implementation: last.implementation, source: `the last upgrade the timelock executed (operation ${last.operationId}${proposalOf.has(last.operationId.toLowerCase()) ? `, proposal ${proposalOf.get(last.operationId.toLowerCase())}` : ""})` }
      : initial
        ? { implementation: getAddress(initial), source: `the initial implementation in deployments/${ctx.network}.json (the timelock executed no upgrade of it)` }
        : undefined;
    const pause = deployment.proxies[c.name] ? await readPauseState(setup, c.name) : undefined;
    proxies.push({ name: c.name, kind: c.kind, address: proxy, authority, owner, implementation, expected, ...(pause?.pausable ? { pause } : {}) });
  }
  return {
    timelock: timelockAddress,
    timelockCodeHash: keccak256(timelockCode),
    timelockArtifactCodeHash: artifact ? keccak256((artifact as unknown as { deployedBytecode: string }).deployedBytecode) : undefined,
    minDelay: Number(minDelay),
    roles,
    eoas,
    safe,
    proxies,
    ...(scanStartWrong ? { recordedDeploymentBlock: scanFrom(setup) } : {}),
  };
}

export function expectationOf(setup: Setup): TopologyExpectation {
  const { ctx, policy, deployment } = setup;
  const g = policy.governance;
  return {
    safe: { address: getAddress(deployment.safe.address), owners: g.safe.owners.map((o) => resolveAccount(ctx, o)), threshold: g.safe.threshold, fallbackHandlers: g.safe.fallbackHandlers },
    policySafe: g.safe.address,
    policyTimelock: g.timelock,
    guardians: g.guardian.map((r) => resolveAccount(ctx, r)),
    executor: g.executor,
    delaySeconds: g.delaySeconds,
    minDelaySeconds: policy.rules.minDelaySeconds,
    minThreshold: policy.rules.minThreshold,
  };
}

/** Pure: every deviation of `view` from `want`, each with its remedy. */
export function diagnose(want: TopologyExpectation, view: TopologyView): Drift[] {
  const drifts: Drift[] = [];
  const add = (rule: string, subject: string, message: string, remedy: string) => drifts.push({ rule, subject, message, remedy });
  const timelock = view.timelock;
  const safe = want.safe.address;
  // The governance record that makes the change through the pipeline (gatehouse govern, src/pipeline/govern.ts).
  const govern = (args: string) => `stage it with \`gatehouse govern ${args}\`, then propose, sign and execute it like an upgrade`;
  const roleWord = (name: string) => ({ PROPOSER_ROLE: "proposer", EXECUTOR_ROLE: "executor", CANCELLER_ROLE: "canceller", DEFAULT_ADMIN_ROLE: "admin" })[name] ?? name;

  if (want.policySafe && getAddress(want.policySafe) !== safe) {
    add("safe-address", safe, `the policy names the Safe ${getAddress(want.policySafe)}, the deployment record ${safe}`, "correct governance.safe.address or deployments/<network>.json");
  }
  if (want.policyTimelock && getAddress(want.policyTimelock) !== timelock) {
    add("timelock-address", timelock, `the policy names the timelock ${getAddress(want.policyTimelock)}, the deployment record ${timelock}`, "correct governance.timelock or deployments/<network>.json");
  }
  if (view.timelockArtifactCodeHash && view.timelockCodeHash !== view.timelockArtifactCodeHash) {
    add("timelock-code", timelock, `the code at the timelock ${timelock} is not this project's TimelockController (code hash ${view.timelockCodeHash})`, "point deployments/<network>.json at the real timelock, or redeploy the governance with `gatehouse deploy`");
  }

  if (view.recordedDeploymentBlock !== undefined) {
    add("record-deployment-block", timelock, `deployments/<network>.json says the timelock was deployed at block ${view.recordedDeploymentBlock}, but it had code before; role history was read from block 0`, "correct timelock.deployedAtBlock in the deployment record (the block of the timelock's deployment)");
  }

  // Roles: exactly the policy's holders, nobody else.
  const expected: Record<string, string[]> = {
    [ROLES.DEFAULT_ADMIN_ROLE]: [timelock],
    [ROLES.PROPOSER_ROLE]: [safe],
    [ROLES.CANCELLER_ROLE]: want.guardians,
    [ROLES.EXECUTOR_ROLE]: want.executor === "open" ? [ZeroAddress] : [safe],
  };
  const who = (a: string) => (a === ZeroAddress ? "address(0) (anyone)" : a === safe ? `the Safe ${a}` : a === timelock ? `the timelock ${a}` : a);
  for (const [role, accounts] of view.roles) {
    const name = ROLE_NAMES[role] ?? role;
    const allowed = expected[role] ?? [];
    for (const account of accounts) {
      if (allowed.includes(account)) continue;
      const eoa = view.eoas.has(account);
      const rule =
        role === ROLES.DEFAULT_ADMIN_ROLE ? (eoa ? "eoa-admin" : "extra-admin")
        : role === ROLES.PROPOSER_ROLE ? (eoa ? "eoa-proposer" : "extra-proposer")
        : role === ROLES.CANCELLER_ROLE ? "extra-canceller"
        : role === ROLES.EXECUTOR_ROLE ? (account === ZeroAddress ? "executor-mode" : "extra-executor")
        : "unknown-role";
      const why = rule === "executor-mode" ? `EXECUTOR_ROLE is open to anyone, but the policy says only the Safe executes` : `${who(account)}${eoa ? " (an EOA)" : ""} holds ${name} on the timelock, which the policy does not give it`;
      const remedy = eoa && role === ROLES.DEFAULT_ADMIN_ROLE ? `have the key holder renounceRole(${name}), or revokeRole(${name}, ${account}): ${govern(`revoke-role ${roleWord(name)} ${account}`)}` : `revokeRole(${name}, ${account}): ${govern(`revoke-role ${roleWord(name)} ${account}`)}`;
      add(rule, rule === "executor-mode" ? "EXECUTOR_ROLE" : account, why, remedy);
    }
  }
  for (const [role, accounts] of Object.entries(expected)) {
    const name = ROLE_NAMES[role]!;
    const held = view.roles.get(role) ?? new Set();
    for (const account of accounts) {
      if (held.has(account)) continue;
      const rule =
        role === ROLES.DEFAULT_ADMIN_ROLE ? "timelock-not-admin"
        : role === ROLES.PROPOSER_ROLE ? "safe-not-proposer"
        : role === ROLES.CANCELLER_ROLE ? "guardian-not-canceller"
        : "executor-mode";
      const what =
        role === ROLES.EXECUTOR_ROLE && want.executor === "open" ? "the policy says anyone may execute, but EXECUTOR_ROLE is not open"
        : role === ROLES.EXECUTOR_ROLE ? `the policy says the Safe executes, but the Safe ${account} does not hold EXECUTOR_ROLE: no operation can be executed`
        : `${who(account)} does not hold ${name} on the timelock, as the policy requires`;
      add(rule, role === ROLES.EXECUTOR_ROLE && want.executor === "open" ? "EXECUTOR_ROLE" : account, what, `grantRole(${name}, ${account}): ${govern(`grant-role ${roleWord(name)} ${account}`)}`);
    }
  }

  if (view.minDelay !== want.delaySeconds) {
    add("timelock-delay", timelock, `the timelock's delay is ${view.minDelay}s, the policy says ${want.delaySeconds}s`, `updateDelay(${want.delaySeconds}): ${govern(`update-delay ${want.delaySeconds}`)}, or correct governance.delaySeconds`);
  }
  if (view.minDelay < want.minDelaySeconds) {
    add("delay-below-minimum", timelock, `the timelock's delay is ${view.minDelay}s, below the policy minimum of ${want.minDelaySeconds}s`, `updateDelay(${want.minDelaySeconds}) or more: ${govern(`update-delay ${want.minDelaySeconds}`)}`);
  }

  if (view.safe) drifts.push(...compareSafeConfig(view.safe, { owners: want.safe.owners, threshold: want.safe.threshold, minThreshold: want.minThreshold, fallbackHandlers: want.safe.fallbackHandlers }));

  for (const p of view.proxies) {
    if (!p.address) {
      add("proxy-missing", p.name, `the governed proxy '${p.name}' is not deployed`, "run `gatehouse deploy`");
      continue;
    }
    if (p.owner !== timelock) {
      const what = p.kind === "uups" ? `the UUPS proxy '${p.name}' (${p.address}) is owned by ${p.owner ?? "nobody readable"}` : `the ProxyAdmin ${p.authority} of '${p.name}' is owned by ${p.owner ?? "nobody readable"}`;
      add("proxy-authority", p.name, `${what}, not the timelock`, `transferOwnership(${timelock}) from the current owner`);
    }
    if (p.pause && p.pause.pauser !== undefined && !want.guardians.includes(p.pause.pauser)) {
      add("pauser-not-guardian", p.name, `'${p.name}' (${p.address}) can be paused by ${p.pause.pauser === ZeroAddress ? "nobody (guardian() is zero)" : p.pause.pauser}, not by the policy's guardian (${want.guardians.join(", ")})`, `setGuardian(${want.guardians[0]}) on '${p.name}': schedule it through the timelock (a Safe-proposed operation)`);
    }
    if (p.pause && p.kind === "transparent" && p.pause.unpauser !== timelock) {
      add("unpauser-not-timelock", p.name, `'${p.name}' (${p.address}) can be unpaused by ${p.pause.unpauser ?? "nobody readable"} (its owner()), not the timelock`, `transferOwnership(${timelock}) from the current owner`);
    }
    if (!p.expected) {
      add("proxy-implementation", p.name, `'${p.name}' (${p.address}) runs ${p.implementation}, and neither the timelock's history nor the deployment record says which implementation it should run`, "record the proxy with `gatehouse deploy`");
    } else if (p.implementation !== p.expected.implementation) {
      add("proxy-implementation", p.name, `'${p.name}' (${p.address}) runs ${p.implementation}, not ${p.expected.implementation}, ${p.expected.source}: it was upgraded outside the governed path`, `stage and propose an upgrade back to ${p.expected.implementation} (or to a reviewed implementation), and find out who could upgrade it`);
    }
  }
  return drifts;
}

export async function doctor(setup: Setup): Promise<Drift[]> {
  return diagnose(expectationOf(setup), await readTopology(setup));
}

/** Who may pause and unpause each governed contract, in words (doctor prints it; the chain says it). */
export function pauseRoles(view: Pick<TopologyView, "proxies" | "timelock">, guardians: string[]): string[] {
  return view.proxies
    .filter((p) => p.address)
    .map((p) =>
      p.pause
        ? `pause '${p.name}': pauser ${p.pause.pauser}${guardians.includes(p.pause.pauser!) ? " (the guardian)" : " (NOT the policy's guardian)"}, unpauser ${p.pause.unpauser === view.timelock ? "the timelock" : (p.pause.unpauser ?? "unknown")}; ${p.pause.paused ? "PAUSED" : "not paused"}`
        : `pause '${p.name}': not pausable (its implementation has no guardian pause)`,
    );
}
