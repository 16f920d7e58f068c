import { expect } from "chai";
import { createRequire } from "node:module";
import { Contract, ContractFactory, Interface, type InterfaceAbi, ZeroAddress, ZeroHash, getAddress, type Signer } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { doctor, roleHolders, type Drift } from "../src/pipeline/doctor.ts";
import { kitForSafe } from "../src/safe/kit.ts";
import { SAFE_SLOTS, readSafeConfig } from "../src/safe/config.ts";
import { ROLES, TIMELOCK_ABI, upgradeInterface } from "../src/timelock/calls.ts";
import type { Policy } from "../src/policy/schema.ts";

/**
 * `doctor` against a real chain: a freshly deployed topology matches the policy, and each way the
 * topology can drift from it is planted on chain and must be reported with its rule and subject.
 *
 * Changes to the Safe's own configuration (owners, modules, guard, fallback handler) are made the way an
 * attacker holding a threshold of keys would: real Safe transactions signed by two owners through
 * protocol-kit. Timelock-side drifts would come from an executed timelock operation; going through the
 * delay for each would only slow the tests down, so those tests impersonate the timelock and make the same
 * call directly: the contracts see exactly the msg.sender a real governance action would have.
 */

const OWNABLE_ABI = ["function owner() view returns (address)", "function transferOwnership(address newOwner)"];
const TIMELOCK_ADMIN_ABI = [...TIMELOCK_ABI, "function updateDelay(uint256 newDelay)"];
const SAFE_ADMIN_ABI = ["function changeThreshold(uint256 threshold)", "function getThreshold() view returns (uint256)"];

/** A signer for a contract address, standing in for a governance action that went wrong. */
async function impersonate(d: Deployed, address: string): Promise<Signer> {
  const provider = d.ctx.connection.provider;
  await provider.request({ method: "hardhat_impersonateAccount", params: [address] });
  // Contracts hold no ether; the impersonated account pays gas.
  await provider.request({ method: "hardhat_setBalance", params: [address, "0x56BC75E2D63100000"] });
  return d.ctx.ethers.getSigner(address);
}

async function asTimelock(d: Deployed): Promise<Contract> {
  const address = d.setup.deployment.timelock.address;
  return new Contract(address, TIMELOCK_ADMIN_ABI, await impersonate(d, address));
}

function rulesOf(drifts: Drift[]): string[] {
  return drifts.map((x) => x.rule);
}

function pairsOf(drifts: Drift[]): [string, string][] {
  return drifts.map((x) => [x.rule, x.subject]);
}

const SAFE_SELF_ABI = new Interface([
  "function addOwnerWithThreshold(address owner, uint256 threshold)",
  "function enableModule(address module)",
  "function setGuard(address guard)",
  "function setFallbackHandler(address handler)",
]);

/** A Safe transaction calling the Safe itself, signed by owners 1 and 2 (the threshold) and executed. */
async function safeSelfCall(d: Deployed, fn: string, args: unknown[]): Promise<void> {
  const safe = d.setup.deployment.safe.address;
  const [a, b] = await Promise.all(d.actors.owners.slice(0, 2).map((o) => kitForSafe(d.ctx, d.setup.deployment, safe, o.kitSigner)));
  let tx = await a!.createTransaction({ transactions: [{ to: safe, value: "0", data: SAFE_SELF_ABI.encodeFunctionData(fn, args) }] });
  tx = await a!.signTransaction(tx);
  tx = await b!.signTransaction(tx);
  const receipt = await d.ctx.ethers.provider.waitForTransaction((await b!.executeTransaction(tx)).hash);
  expect(receipt?.status, `${fn} executed`).to.equal(1);
}

/** doctor with the policy edited after deployment: the chain keeps what was deployed. */
function withPolicy(d: Deployed, edit: (g: Policy["governance"]) => Policy["governance"]) {
  return { ...d.setup, policy: { ...d.setup.policy, governance: edit(structuredClone(d.setup.policy.governance)) } };
}

const require = createRequire(import.meta.url);
const GUARD = require("@safe-global/safe-smart-account/build/artifacts/contracts/examples/guards/DelegateCallTransactionGuard.sol/DelegateCallTransactionGuard.json") as { abi: InterfaceAbi; bytecode: string };

describe("doctor: on-chain governance vs the policy", function () {
  let d: Deployed | undefined;

  afterEach(async () => {
    await d?.close();
    d = undefined;
  });

  it("reports no drift on a freshly deployed topology", async () => {
    d = await deployed();
    expect(await doctor(d.setup)).to.deep.equal([]);
  });

  it("reads role history from the timelock's recorded deployment block, which holds the whole history", async () => {
    d = await deployed();
    const { timelock, deployment } = d.setup;
    const from = deployment.timelock.deployedAtBlock!;
    expect(await d.ctx.ethers.provider.getCode(timelock.target as string, from - 1)).to.equal("0x");
    expect(await d.ctx.ethers.provider.getCode(timelock.target as string, from)).to.not.equal("0x");
    const holders = await roleHolders(timelock, from);
    expect([...holders.get(ROLES.DEFAULT_ADMIN_ROLE)!]).to.deep.equal([getAddress(timelock.target as string)]);
    expect([...holders.get(ROLES.PROPOSER_ROLE)!]).to.deep.equal([deployment.safe.address]);
    expect([...holders.get(ROLES.CANCELLER_ROLE)!]).to.deep.equal([d.actors.guardian.address]);
  });

  it("does not let a deployment record hide role grants behind a later deployment block", async () => {
    d = await deployed();
    const eoa = d.actors.outsider.address;
    await (await (await asTimelock(d)).grantRole(ROLES.DEFAULT_ADMIN_ROLE, eoa)).wait();
    const later = (await d.ctx.ethers.provider.getBlockNumber()) + 1;
    await d.ctx.connection.provider.request({ method: "hardhat_mine", params: ["0x2"] });
    const tampered = { ...d.setup, deployment: { ...d.setup.deployment, timelock: { ...d.setup.deployment.timelock, deployedAtBlock: later } } };
    expect(pairsOf(await doctor(tampered))).to.deep.equal([
      ["record-deployment-block", getAddress(d.setup.deployment.timelock.address)],
      ["eoa-admin", eoa],
    ]);
  });

  it("reports an EOA holding DEFAULT_ADMIN_ROLE (eoa-admin)", async () => {
    d = await deployed();
    const eoa = d.actors.outsider.address;
    await (await (await asTimelock(d)).grantRole(ROLES.DEFAULT_ADMIN_ROLE, eoa)).wait();

    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["eoa-admin", eoa]]);
    expect(drifts[0]!.message).to.include(eoa).and.include("DEFAULT_ADMIN_ROLE");
  });

  it("reports an EOA holding PROPOSER_ROLE (eoa-proposer)", async () => {
    d = await deployed();
    const eoa = d.actors.user.address;
    await (await (await asTimelock(d)).grantRole(ROLES.PROPOSER_ROLE, eoa)).wait();

    const drifts = await doctor(d.setup);
    // The Safe still proposes; only the extra EOA is wrong.
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["eoa-proposer", eoa]]);
  });

  it("reports each governance value of the policy that the chain does not hold (threshold, delay, owners)", async () => {
    d = await deployed();
    const [o1, o2, o3] = d.actors.owners.map((o) => o.address) as [string, string, string];
    const five = d.actors.user.address;
    const safe = getAddress(d.setup.deployment.safe.address);
    const timelock = getAddress(d.setup.deployment.timelock.address);

    // The chain's 2-of-3 Safe against a policy asking for 3-of-3: not "above the minimum", a mismatch.
    let drifts = await doctor(withPolicy(d, (g) => ({ ...g, safe: { ...g.safe, threshold: 3 } })));
    expect(pairsOf(drifts)).to.deep.equal([["safe-threshold", safe]]);
    expect(drifts[0]!.message).to.include("threshold is 2").and.include("policy says 3");
    expect(drifts[0]!.remedy).to.include("changeThreshold(3)");

    drifts = await doctor(withPolicy(d, (g) => ({ ...g, delaySeconds: 7200 })));
    expect(pairsOf(drifts)).to.deep.equal([["timelock-delay", timelock]]);
    expect(drifts[0]!.message).to.include("3600s").and.include("7200s");
    expect(drifts[0]!.remedy).to.include("updateDelay(7200)");

    drifts = await doctor(withPolicy(d, (g) => ({ ...g, safe: { ...g.safe, owners: [o1!, o2!, five] } })));
    expect(pairsOf(drifts)).to.deep.equal([
      ["safe-owner-extra", o3],
      ["safe-owner-missing", five],
    ]);
    expect(drifts.every((x) => x.remedy.length > 0)).to.equal(true);
  });

  it("reports an owner added to the Safe by a signed Safe transaction (safe-owner-extra)", async () => {
    d = await deployed();
    const eve = d.actors.outsider.address;
    await safeSelfCall(d, "addOwnerWithThreshold", [eve, 2]);
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["safe-owner-extra", eve]]);
    expect(drifts[0]!.remedy).to.include("removeOwner");
  });

  it("reports a module enabled on the Safe (safe-module)", async () => {
    d = await deployed();
    const module = d.actors.outsider.address;
    await safeSelfCall(d, "enableModule", [module]);
    expect((await readSafeConfig(d.ctx.ethers.provider, d.setup.deployment.safe.address)).modules).to.deep.equal([module]);
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["safe-module", module]]);
    expect(drifts[0]!.remedy).to.include("disableModule");
  });

  it("reports a transaction guard set on the Safe (safe-guard)", async () => {
    d = await deployed();
    const guard = await new ContractFactory(GUARD.abi, GUARD.bytecode, d.actors.deployer.signer).deploy(ZeroAddress);
    await guard.waitForDeployment();
    const address = getAddress(await guard.getAddress());
    await safeSelfCall(d, "setGuard", [address]);
    expect(getAddress("0x" + (await d.ctx.ethers.provider.getStorage(d.setup.deployment.safe.address, SAFE_SLOTS.guard)).slice(26))).to.equal(address);
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["safe-guard", address]]);
    expect(drifts[0]!.remedy).to.include("setGuard(address(0))");
  });

  it("reports a fallback handler that is not the canonical CompatibilityFallbackHandler, unless the policy allowlists it", async () => {
    d = await deployed();
    const handler = d.actors.outsider.address;
    await safeSelfCall(d, "setFallbackHandler", [handler]);
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["safe-fallback-handler", handler]]);
    expect(await doctor(withPolicy(d, (g) => ({ ...g, safe: { ...g.safe, fallbackHandlers: [handler] } })))).to.deep.equal([]);
  });

  it("reports a singleton whose code is not the canonical Safe 1.5.0 singleton, although it behaves like one (safe-singleton)", async () => {
    d = await deployed();
    const provider = d.ctx.connection.provider;
    const safe = d.setup.deployment.safe.address;
    // The singleton's code plus one trailing byte: every call still works, only the code hash tells them apart.
    const original = await d.ctx.ethers.provider.getCode((await readSafeConfig(d.ctx.ethers.provider, safe)).singleton);
    const lookalike = getAddress("0x" + "5a".repeat(20));
    await provider.request({ method: "hardhat_setCode", params: [lookalike, original + "00"] });
    await provider.request({ method: "hardhat_setStorageAt", params: [safe, ZeroHash, "0x" + lookalike.slice(2).toLowerCase().padStart(64, "0")] });
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["safe-singleton", lookalike]]);
  });

  it("reports extra CANCELLER_ROLE and EXECUTOR_ROLE holders (extra-canceller, extra-executor)", async () => {
    d = await deployed();
    const eve = d.actors.outsider.address;
    const timelock = await asTimelock(d);
    await (await timelock.grantRole(ROLES.CANCELLER_ROLE, eve)).wait();
    await (await timelock.grantRole(ROLES.EXECUTOR_ROLE, eve)).wait();
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([
      ["extra-canceller", eve],
      ["extra-executor", eve],
    ]);
    expect(drifts.every((x) => x.remedy.startsWith("revokeRole("))).to.equal(true);
  });

  it("accepts an upgrade the timelock executed, and reports one made outside the governed path (proxy-implementation)", async () => {
    d = await deployed();
    const vault = d.setup.deployment.proxies.vault!.address;
    const factory = await d.ctx.ethers.getContractFactory("VaultV2", d.actors.deployer.signer);
    const [v2, other] = await Promise.all([factory.deploy(), factory.deploy()]);
    const [impl, rogue] = await Promise.all([v2.getAddress(), other.getAddress()]);

    // The governed path: the Safe (proposer) schedules, the delay passes, anyone executes (executor: open).
    const data = upgradeInterface.encodeFunctionData("upgradeToAndCall", [impl, "0x"]);
    const asSafe = new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI, await impersonate(d, d.setup.deployment.safe.address));
    await (await asSafe.schedule!(vault, 0, data, ZeroHash, ZeroHash, 3600)).wait();
    await d.ctx.connection.provider.request({ method: "evm_increaseTime", params: [3601] });
    await (await (asSafe.connect(d.actors.user.signer) as Contract).execute!(vault, 0, data, ZeroHash, ZeroHash)).wait();
    expect(await doctor(d.setup)).to.deep.equal([]);

    // Outside it: the same msg.sender, but no executed timelock operation names this implementation.
    const proxy = new Contract(vault, upgradeInterface, await impersonate(d, d.setup.deployment.timelock.address));
    await (await proxy.upgradeToAndCall!(rogue, "0x")).wait();
    const drifts = await doctor(d.setup);
    expect(pairsOf(drifts)).to.deep.equal([["proxy-implementation", "vault"]]);
    expect(drifts[0]!.message).to.include(getAddress(rogue)).and.include(getAddress(impl)).and.include("outside the governed path");
  });

  it("reports a Safe threshold below the policy minimum (threshold-below-minimum)", async () => {
    d = await deployed();
    const safeAddress = d.setup.deployment.safe.address;
    // Safe's `authorized` modifier accepts calls from the Safe itself, as an executed Safe transaction would be.
    const safe = new Contract(safeAddress, SAFE_ADMIN_ABI, await impersonate(d, safeAddress));
    await (await safe.changeThreshold(1)).wait();
    expect(await safe.getThreshold()).to.equal(1n);

    const drifts = await doctor(d.setup);
    expect(rulesOf(drifts)).to.deep.equal(["safe-threshold", "threshold-below-minimum"]);
    expect(drifts[0]!.subject).to.equal(getAddress(safeAddress));
    expect(drifts[1]!.message).to.include("threshold is 1").and.include("minimum of 2");
  });

  it("reports a timelock delay below the policy minimum (delay-below-minimum)", async () => {
    d = await deployed();
    // updateDelay is only callable by the timelock itself (an executed timelock operation).
    await (await (await asTimelock(d)).updateDelay(60)).wait();

    const drifts = await doctor(d.setup);
    expect(rulesOf(drifts)).to.deep.equal(["timelock-delay", "delay-below-minimum"]);
    expect(drifts[1]!.subject).to.equal(getAddress(d.setup.deployment.timelock.address));
    expect(drifts[1]!.message).to.include("60s").and.include("3600s");
  });

  it("reports a UUPS proxy whose upgrade authority is not the timelock (proxy-authority: vault)", async () => {
    d = await deployed();
    const vault = d.setup.deployment.proxies.vault!.address;
    const eoa = d.actors.outsider.address;
    const ownable = new Contract(vault, OWNABLE_ABI, await impersonate(d, d.setup.deployment.timelock.address));
    await (await ownable.transferOwnership(eoa)).wait();
    expect(getAddress(await ownable.owner())).to.equal(eoa);

    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["proxy-authority", "vault"]]);
    expect(drifts[0]!.message).to.include(eoa);
  });

  it("reports a Transparent proxy whose ProxyAdmin is not owned by the timelock (proxy-authority: registry)", async () => {
    d = await deployed();
    const proxyAdmin = d.setup.deployment.proxies.registry!.proxyAdmin!;
    const eoa = d.actors.outsider.address;
    const ownable = new Contract(proxyAdmin, OWNABLE_ABI, await impersonate(d, d.setup.deployment.timelock.address));
    await (await ownable.transferOwnership(eoa)).wait();

    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["proxy-authority", "registry"]]);
    expect(drifts[0]!.message).to.include(proxyAdmin).and.include(eoa);
  });

  it("reports the guardian losing CANCELLER_ROLE (guardian-not-canceller)", async () => {
    d = await deployed();
    const guardian = d.actors.guardian.address;
    await (await (await asTimelock(d)).revokeRole(ROLES.CANCELLER_ROLE, guardian)).wait();

    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["guardian-not-canceller", guardian]]);
  });

  it("reports EXECUTOR_ROLE open to anyone when the policy says only the Safe executes (executor-mode)", async () => {
    d = await deployed((y) => y.replace("executor: open", "executor: safe"));
    expect(d.policy.governance.executor).to.equal("safe");
    // Deployed per policy, the Safe alone executes: no drift yet.
    expect(await doctor(d.setup)).to.deep.equal([]);

    await (await (await asTimelock(d)).grantRole(ROLES.EXECUTOR_ROLE, ZeroAddress)).wait();

    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["executor-mode", "EXECUTOR_ROLE"]]);
    expect(drifts[0]!.message).to.include("open to anyone");
  });

  it("reports the Safe without EXECUTOR_ROLE when the policy says only the Safe executes (executor-mode)", async () => {
    d = await deployed((y) => y.replace("executor: open", "executor: safe"));
    const safe = getAddress(d.setup.deployment.safe.address);
    await (await (await asTimelock(d)).revokeRole(ROLES.EXECUTOR_ROLE, safe)).wait();

    // Nobody may execute now: every scheduled upgrade would be stuck for good.
    const drifts = await doctor(d.setup);
    expect(drifts.map((x) => [x.rule, x.subject])).to.deep.equal([["executor-mode", safe]]);
    expect(drifts[0]!.message).to.include("EXECUTOR_ROLE");
  });
});
