import { Contract, ContractFactory, ZeroAddress, getAddress, getCreateAddress, id, keccak256, toBigInt } from "ethers";
import type { ChainContext } from "../src/chain/context.ts";
import { resolveAccount, type Actor } from "../src/chain/context.ts";
import type { Policy } from "../src/policy/schema.ts";
import { GatehouseError, notDeployed } from "../src/errors.ts";
import { readDeployment, writeDeployment, type DeploymentRecord, type SafeInfra } from "../src/records/deployment.ts";
import { CANONICAL_SAFE_1_5_0, canonicalInfraPresent, contractNetworks, deploySafeInfra, hasCode } from "../src/safe/infra.ts";
import { kitForPredictedSafe, SAFE_VERSION } from "../src/safe/kit.ts";
import { compareSafeConfig, nonCanonicalSafeInfra, readSafeConfig, type SafeConfig } from "../src/safe/config.ts";
import { diagnose, roleHolders } from "../src/pipeline/doctor.ts";
import { ROLES, TIMELOCK_ABI } from "../src/timelock/calls.ts";
import { CANONICAL_MULTICALL3, multicallArtifact } from "../src/watch/multicall.ts";

/**
 * `gatehouse deploy`: the governance topology of SPEC "Governance topology" and the governed proxies at
 * their initial contracts. Every step first reads the chain and the deployment record, so re-running it
 * changes nothing that is already deployed, and a run cut off half-way resumes where it stopped. The
 * record is written after every transaction that creates something.
 */
export interface DeployResult {
  record: DeploymentRecord;
  /** What this run did, one line per step; "kept" lines mean nothing changed. */
  steps: string[];
}

export async function deployGovernance(opts: { ctx: ChainContext; root: string; policy: Policy; deployer: Actor; log?: (line: string) => void }): Promise<DeployResult> {
  const { ctx, root, policy, deployer } = opts;
  const steps: string[] = [];
  const step = (line: string) => {
    steps.push(line);
    opts.log?.(line);
  };
  if (BigInt(policy.chainId) !== ctx.chainId) {
    throw new GatehouseError("CHAIN_MISMATCH", { file: `policies/${policy.network}.yaml`, expected: policy.chainId, network: ctx.network, actual: ctx.chainId });
  }
  const provider = ctx.ethers.provider;
  let record: DeploymentRecord = readDeployment(root, ctx.network) ?? {
    network: ctx.network,
    chainId: Number(ctx.chainId),
    deployer: deployer.address,
    proxies: {},
  };
  const save = (next: DeploymentRecord) => {
    record = next;
    writeDeployment(root, record);
  };

  // 1. Safe contracts: reuse the record's or the canonical ones; deploy from artifacts where the chain has none.
  if (record.safeInfra && record.safeInfra.source !== "partial" && (await hasCode(provider, record.safeInfra.safeSingleton))) {
    const { source: _s, ...infra } = record.safeInfra;
    const wrong = await nonCanonicalSafeInfra(provider, infra as SafeInfra);
    if (wrong.length > 0) throw new GatehouseError("SAFE_CODE_UNKNOWN", { what: `deployments/${ctx.network}.json safeInfra`, version: SAFE_VERSION, keys: wrong.join(", ") });
    step(`kept Safe ${SAFE_VERSION} contracts (${record.safeInfra.source}) at singleton ${record.safeInfra.safeSingleton}`);
  } else if (await canonicalInfraPresent(provider)) {
    save({ ...record, safeInfra: { ...CANONICAL_SAFE_1_5_0, source: "canonical" } });
    step(`using canonical Safe ${SAFE_VERSION} contracts`);
  } else {
    const { source: _source, ...partial } = record.safeInfra ?? { source: "partial" };
    const infra = await deploySafeInfra(deployer.signer, partial, (key, address) => {
      save({ ...record, safeInfra: { ...(record.safeInfra ?? {}), [key]: address, source: "partial" } });
    });
    save({ ...record, safeInfra: { ...infra, source: "deployed" } });
    step(`deployed Safe ${SAFE_VERSION} contracts from @safe-global/safe-smart-account (singleton ${infra.safeSingleton})`);
  }

  // 2. The Safe: owners and threshold from the policy, at a CREATE2 address derived from them.
  const owners = policy.governance.safe.owners.map((o) => resolveAccount(ctx, o));
  const threshold = policy.governance.safe.threshold;
  let safeAddress: string;
  if (policy.governance.safe.address) {
    safeAddress = getAddress(policy.governance.safe.address);
    if (!(await hasCode(provider, safeAddress))) throw notDeployed(`the Safe ${safeAddress} named in the policy`, ctx.network, "deploy it or remove governance.safe.address from the policy");
    const live = await adoptableSafe(ctx, policy, safeAddress, owners);
    save({ ...record, safe: { address: safeAddress, owners: live.owners, threshold: live.threshold, version: SAFE_VERSION, saltNonce: "adopted" } });
    step(`adopted Safe ${safeAddress} from the policy`);
  } else {
    const saltNonce = toBigInt(id(`gatehouse:${ctx.network}:${owners.join(",")}:${threshold}`)).toString();
    const kit = await kitForPredictedSafe(
      ctx,
      contractNetworks(ctx.chainId, record.safeInfra as SafeInfra),
      { safeAccountConfig: { owners, threshold }, safeDeploymentConfig: { safeVersion: SAFE_VERSION, saltNonce } },
      deployer.kitSigner,
    );
    safeAddress = getAddress(await kit.getAddress());
    if (await kit.isSafeDeployed()) {
      await adoptableSafe(ctx, policy, safeAddress, owners);
      step(`kept Safe ${safeAddress} (${threshold}-of-${owners.length})`);
    } else {
      const tx = await kit.createSafeDeploymentTransaction();
      await (await deployer.signer.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value) })).wait();
      step(`deployed Safe ${safeAddress} (${threshold}-of-${owners.length}, owners ${owners.join(", ")})`);
    }
    save({ ...record, safe: { address: safeAddress, owners, threshold, version: SAFE_VERSION, saltNonce } });
  }

  // 3. The TimelockController: the Safe proposes, the guardian cancels, executors per policy; it administers itself.
  const guardians = policy.governance.guardian.map((g) => resolveAccount(ctx, g));
  const executors = policy.governance.executor === "open" ? [ZeroAddress] : [safeAddress];
  let timelockAddress = policy.governance.timelock ?? record.timelock?.address;
  const recordTimelock = (address: string, deployedAtBlock: number) => {
    const { pendingTimelock: _done, ...rest } = record;
    save({ ...rest, timelock: { address, deployedAtBlock, minDelay: policy.governance.delaySeconds, executors, cancellers: guardians, adminRenounced: false } });
  };
  if (timelockAddress && (await hasCode(provider, timelockAddress))) {
    await adoptableTimelock(ctx, policy, getAddress(timelockAddress), { safe: safeAddress, guardians, executors, deployer: deployer.address, fromBlock: record.timelock?.deployedAtBlock ?? record.pendingTimelock?.atBlock ?? 0 });
    step(`kept TimelockController ${timelockAddress}`);
  } else if (record.pendingTimelock && (await hasCode(provider, record.pendingTimelock.address))) {
    timelockAddress = record.pendingTimelock.address;
    recordTimelock(timelockAddress, record.pendingTimelock.atBlock);
    step(`adopted TimelockController ${timelockAddress}, deployed by a run that stopped before recording it`);
  } else {
    // Name the address before sending, so that a run cut off after sending finds the timelock next time.
    const nonce = await provider.getTransactionCount(deployer.address, "pending");
    const predicted = getCreateAddress({ from: deployer.address, nonce });
    save({ ...record, pendingTimelock: { address: predicted, nonce, atBlock: await provider.getBlockNumber() } });
    const factory = await ctx.ethers.getContractFactory("TimelockController", deployer.signer);
    // The deployer is admin only until the guardian's role is granted below, then renounces.
    const timelock = await factory.deploy(policy.governance.delaySeconds, [safeAddress], executors, deployer.address, { nonce });
    await timelock.waitForDeployment();
    timelockAddress = getAddress(await timelock.getAddress());
    if (timelockAddress !== predicted) throw new GatehouseError("CHAIN_CALL_FAILED", { action: "deploying the TimelockController", reason: `it landed at ${timelockAddress}, not at ${predicted}` });
    recordTimelock(timelockAddress, (await timelock.deploymentTransaction()!.wait())!.blockNumber);
    step(`deployed TimelockController ${timelockAddress} (delay ${policy.governance.delaySeconds}s, proposer = Safe, executor = ${policy.governance.executor})`);
  }
  timelockAddress = getAddress(timelockAddress);
  const timelock = new Contract(timelockAddress, TIMELOCK_ABI, deployer.signer);
  const hasRole = (role: string, who: string) => timelock.hasRole(role, who) as Promise<boolean>;
  const adminHeld = await hasRole(ROLES.DEFAULT_ADMIN_ROLE, deployer.address);
  for (const g of guardians) {
    if (await hasRole(ROLES.CANCELLER_ROLE, g)) continue;
    if (!adminHeld) throw new GatehouseError("CHAIN_CALL_FAILED", { action: `granting CANCELLER_ROLE to ${g}`, reason: "the deployer no longer holds DEFAULT_ADMIN_ROLE; schedule grantRole through the timelock" });
    await (await timelock.grantRole(ROLES.CANCELLER_ROLE, g)).wait();
    step(`granted CANCELLER_ROLE to guardian ${g}`);
  }
  // The constructor makes every proposer a canceller too; only the guardian should be able to cancel.
  if (!guardians.includes(safeAddress) && (await hasRole(ROLES.CANCELLER_ROLE, safeAddress)) && adminHeld) {
    await (await timelock.revokeRole(ROLES.CANCELLER_ROLE, safeAddress)).wait();
    step(`revoked CANCELLER_ROLE from the Safe (the guardian cancels)`);
  }
  if (adminHeld) {
    await (await timelock.renounceRole(ROLES.DEFAULT_ADMIN_ROLE, deployer.address)).wait();
    step(`deployer ${deployer.address} renounced DEFAULT_ADMIN_ROLE: the timelock administers itself`);
  }
  // What the chain says, not what this run did: an adopted timelock may still have another admin.
  const admins = (await roleHolders(timelock, record.timelock?.deployedAtBlock ?? 0)).get(ROLES.DEFAULT_ADMIN_ROLE) ?? new Set<string>();
  const otherAdmins = [...admins].filter((a) => a !== timelockAddress);
  if (otherAdmins.length > 0) step(`WARNING: DEFAULT_ADMIN_ROLE is still held by ${otherAdmins.join(", ")} besides the timelock: adminRenounced is false`);
  save({
    ...record,
    timelock: {
      address: timelockAddress,
      ...(record.timelock?.deployedAtBlock !== undefined ? { deployedAtBlock: record.timelock.deployedAtBlock } : {}),
      minDelay: Number(await timelock.getMinDelay()),
      executors,
      cancellers: guardians,
      adminRenounced: otherAdmins.length === 0,
    },
  });

  // 4. Proxies at their initial contracts, with the timelock as the only upgrade authority.
  for (const c of policy.contracts) {
    const existing = c.proxy ?? record.proxies[c.name]?.address;
    if (existing && (await hasCode(provider, existing))) {
      step(`kept ${c.kind} proxy '${c.name}' at ${existing}`);
      if (!record.proxies[c.name]) {
        const impl = await ctx.up.erc1967.getImplementationAddress(existing);
        const proxyAdmin = c.kind === "transparent" ? await ctx.up.erc1967.getAdminAddress(existing) : undefined;
        save({ ...record, proxies: { ...record.proxies, [c.name]: { address: getAddress(existing), kind: c.kind, proxyAdmin, initialContract: c.initialContract ?? c.contract, initialImplementation: impl } } });
      }
      continue;
    }
    const contractName = c.initialContract ?? c.contract;
    const factory = await ctx.ethers.getContractFactory(contractName, deployer.signer);
    // `timelock` and `guardian` stand for those addresses (a pausable V3 names its pauser at initialization).
    const args = c.initializerArgs.map((a) => (a === "timelock" ? timelockAddress : a === "guardian" ? guardians[0]! : a));
    const proxy = await ctx.up.deployProxy(factory, args, {
      kind: c.kind,
      initializer: "initialize",
      ...(c.kind === "transparent" ? { initialOwner: timelockAddress } : {}),
    });
    await proxy.waitForDeployment();
    const address = getAddress(await proxy.getAddress());
    const impl = getAddress(await ctx.up.erc1967.getImplementationAddress(address));
    const proxyAdmin = c.kind === "transparent" ? getAddress(await ctx.up.erc1967.getAdminAddress(address)) : undefined;
    save({ ...record, proxies: { ...record.proxies, [c.name]: { address, kind: c.kind, proxyAdmin, initialContract: contractName, initialImplementation: impl } } });
    step(`deployed ${c.kind} proxy '${c.name}' at ${address} running ${contractName} (${impl})${proxyAdmin ? `, ProxyAdmin ${proxyAdmin} owned by the timelock` : ", owned by the timelock"}`);
  }

  // 5. Multicall3 for the watcher's monitors (only when the policy has some): the canonical one, or the
  // vendored build deployed by the deployer (the canonical presigned deployment is bound to other chain ids).
  if (policy.contracts.some((c) => (c.monitors?.length ?? 0) > 0)) {
    const vendored = multicallArtifact();
    const kept = record.multicall && (await provider.getCode(record.multicall.address));
    if (kept && (record.multicall!.source === "canonical" ? kept !== "0x" : kept.toLowerCase() === vendored.deployedBytecode.toLowerCase())) {
      step(`kept Multicall3 (${record.multicall!.source}) at ${record.multicall!.address}`);
    } else if (await hasCode(provider, CANONICAL_MULTICALL3)) {
      save({ ...record, multicall: { address: CANONICAL_MULTICALL3, source: "canonical" } });
      step(`using the canonical Multicall3 at ${CANONICAL_MULTICALL3}`);
    } else {
      const contract = await new ContractFactory(vendored.abi as never, vendored.bytecode, deployer.signer).deploy();
      await contract.waitForDeployment();
      const address = getAddress(await contract.getAddress());
      save({ ...record, multicall: { address, source: "deployed" } });
      step(`deployed Multicall3 (vendored build of src/watch/multicall/Multicall3.sol) at ${address}`);
    }
  }
  return { record, steps };
}

/** An existing Safe is adopted only when the chain holds what the policy says (and its code is a Safe 1.5.0). */
async function adoptableSafe(ctx: ChainContext, policy: Policy, safe: string, owners: string[]): Promise<SafeConfig> {
  const config = await readSafeConfig(ctx.ethers.provider, safe);
  const g = policy.governance.safe;
  const findings = compareSafeConfig(config, { owners, threshold: g.threshold, minThreshold: policy.rules.minThreshold, fallbackHandlers: g.fallbackHandlers });
  if (findings.length > 0) throw new GatehouseError("ADOPTED_DIFFERS", { what: "the Safe", address: safe, findings: findings.map((f) => `${f.rule}: ${f.message}`).join("; ") }, { details: { findings } });
  return config;
}

/**
 * An existing timelock is adopted only when its delay and role holders are the policy's. Two differences
 * are tolerated because this run completes them while the deployer is still admin: the deployer holding
 * DEFAULT_ADMIN_ROLE, and the Safe (made a canceller by the constructor) holding CANCELLER_ROLE.
 */
async function adoptableTimelock(
  ctx: ChainContext,
  policy: Policy,
  address: string,
  who: { safe: string; guardians: string[]; executors: string[]; deployer: string; fromBlock: number },
): Promise<void> {
  const timelock = new Contract(address, TIMELOCK_ABI, ctx.ethers.provider);
  const [roles, minDelay, code, artifact] = await Promise.all([
    roleHolders(timelock, who.fromBlock),
    timelock.getMinDelay!() as Promise<bigint>,
    ctx.ethers.provider.getCode(address),
    ctx.readArtifact("TimelockController"),
  ]);
  const deployerIsAdmin = roles.get(ROLES.DEFAULT_ADMIN_ROLE)?.has(who.deployer) ?? false;
  const findings = diagnose(
    { safe: { address: who.safe, owners: [], threshold: 0 }, guardians: who.guardians, executor: policy.governance.executor, delaySeconds: policy.governance.delaySeconds, minDelaySeconds: policy.rules.minDelaySeconds, minThreshold: 0 },
    {
      timelock: address,
      timelockCodeHash: keccak256(code),
      timelockArtifactCodeHash: keccak256((artifact as unknown as { deployedBytecode: string }).deployedBytecode),
      minDelay: Number(minDelay),
      roles,
      eoas: new Set(),
      safe: undefined,
      proxies: [],
    },
  ).filter((f) => {
    if (!deployerIsAdmin) return true;
    if (f.rule === "extra-admin" && f.subject === who.deployer) return false;
    if (f.rule === "extra-canceller" && f.subject === who.safe) return false;
    // While the deployer is admin, the constructor's admin grants are not done yet: this run grants them.
    return !(f.rule === "guardian-not-canceller" || f.rule === "timelock-not-admin");
  });
  if (findings.length > 0) throw new GatehouseError("ADOPTED_DIFFERS", { what: "the TimelockController", address, findings: findings.map((f) => `${f.rule}: ${f.message}`).join("; ") }, { details: { findings } });
}
