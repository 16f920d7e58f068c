import { expect } from "chai";
import { Contract, ZeroAddress, getAddress, type Signer } from "ethers";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { doctor, roleHolders, type Drift } from "../src/pipeline/doctor.ts";
import { ROLES, TIMELOCK_ABI } from "../src/timelock/calls.ts";

/**
 * `doctor` against a real chain: a freshly deployed topology matches the policy, and each way the
 * topology can drift from it is planted on chain and must be reported with its rule and subject.
 *
 * Every drift below would, in real life, come from a governance action that went wrong (a timelock
 * operation or Safe transaction that granted the wrong role, lowered the delay, handed ownership away).
 * Going through the Safe and the timelock delay for each would only slow the tests down, so the tests
 * impersonate the timelock (or the Safe) and make the same call directly: the contracts see exactly
 * the msg.sender a real governance action would have.
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

  it("reports a Safe threshold below the policy minimum (threshold-below-minimum)", async () => {
    d = await deployed();
    const safeAddress = d.setup.deployment.safe.address;
    // Safe's `authorized` modifier accepts calls from the Safe itself, as an executed Safe transaction would be.
    const safe = new Contract(safeAddress, SAFE_ADMIN_ABI, await impersonate(d, safeAddress));
    await (await safe.changeThreshold(1)).wait();
    expect(await safe.getThreshold()).to.equal(1n);

    const drifts = await doctor(d.setup);
    expect(rulesOf(drifts)).to.deep.equal(["threshold-below-minimum"]);
    expect(drifts[0]!.subject).to.equal(getAddress(safeAddress));
    expect(drifts[0]!.message).to.include("threshold is 1").and.include("minimum of 2");
  });

  it("reports a timelock delay below the policy minimum (delay-below-minimum)", async () => {
    d = await deployed();
    // updateDelay is only callable by the timelock itself (an executed timelock operation).
    await (await (await asTimelock(d)).updateDelay(60)).wait();

    const drifts = await doctor(d.setup);
    expect(rulesOf(drifts)).to.deep.equal(["delay-below-minimum"]);
    expect(drifts[0]!.subject).to.equal(getAddress(d.setup.deployment.timelock.address));
    expect(drifts[0]!.message).to.include("60s").and.include("3600s");
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
