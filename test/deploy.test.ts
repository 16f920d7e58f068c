import { expect } from "chai";
import { readFileSync } from "node:fs";
import { rmSync } from "node:fs";
import { Contract, getAddress } from "ethers";
import { deployed, workspace, type Deployed } from "./helpers/fixture.ts";
import { deployGovernance } from "../deploy/governance.ts";
import { deploymentPath, readDeployment, writeDeployment } from "../src/records/deployment.ts";
import { doctor } from "../src/pipeline/doctor.ts";
import { isGatehouseError, type GatehouseError } from "../src/errors.ts";
import { CANONICAL_SAFE_1_5_0 } from "../src/safe/infra.ts";
import { ROLES, TIMELOCK_ABI } from "../src/timelock/calls.ts";
import type { Policy } from "../src/policy/schema.ts";

async function refusal(p: Promise<unknown>): Promise<GatehouseError> {
  try {
    await p;
  } catch (e) {
    if (isGatehouseError(e)) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("deploy: re-running changes nothing, and an interrupted run resumes", function () {
  let d: Deployed;
  afterEach(async () => d?.close());

  it("a second run sends no transaction and leaves the record as it was", async () => {
    d = await deployed();
    const before = readFileSync(deploymentPath(d.root, "default"), "utf8");
    const nonce = await d.ctx.ethers.provider.getTransactionCount(d.actors.deployer.address);
    const again = await deployGovernance({ ctx: d.ctx, root: d.root, policy: d.policy, deployer: d.actors.deployer });
    expect(again.steps.every((s) => s.startsWith("kept")), again.steps.join("\n")).to.equal(true);
    expect(await d.ctx.ethers.provider.getTransactionCount(d.actors.deployer.address)).to.equal(nonce);
    expect(readFileSync(deploymentPath(d.root, "default"), "utf8")).to.equal(before);
  });

  it("adopts a timelock whose deployment was sent by a run cut off before recording it", async () => {
    d = await deployed();
    const full = readDeployment(d.root, "default")!;
    // What the record looks like when the run stopped right after sending the timelock's deployment.
    const { timelock, ...cut } = full;
    writeDeployment(d.root, { ...cut, pendingTimelock: { address: timelock!.address, nonce: 0, atBlock: timelock!.deployedAtBlock! - 1 } });
    const nonce = await d.ctx.ethers.provider.getTransactionCount(d.actors.deployer.address);
    const resumed = await deployGovernance({ ctx: d.ctx, root: d.root, policy: d.policy, deployer: d.actors.deployer });
    expect(resumed.steps.some((s) => s.startsWith(`adopted TimelockController ${timelock!.address}`)), resumed.steps.join("\n")).to.equal(true);
    expect(await d.ctx.ethers.provider.getTransactionCount(d.actors.deployer.address), "no second timelock").to.equal(nonce);
    const record = readDeployment(d.root, "default")!;
    expect(record.pendingTimelock).to.equal(undefined);
    expect(record.timelock!.address).to.equal(timelock!.address);
    expect(record.timelock!.adminRenounced).to.equal(true);
    expect(await doctor({ ...d.setup, deployment: { ...d.setup.deployment, ...record } as typeof d.setup.deployment })).to.deep.equal([]);
  });

  it("adopts an existing Safe or timelock only when the chain holds what the policy says", async () => {
    d = await deployed();
    const { safe, timelock } = d.setup.deployment;
    const run = (edit: (g: Policy["governance"]) => Policy["governance"]) =>
      deployGovernance({ ctx: d.ctx, root: d.root, policy: { ...d.policy, governance: edit(structuredClone(d.policy.governance)) }, deployer: d.actors.deployer });

    // Same owners and threshold as the chain: adopted, nothing sent.
    const same = await run((g) => ({ ...g, safe: { ...g.safe, address: safe.address }, timelock: timelock.address }));
    expect(same.steps, same.steps.join("\n")).to.include(`adopted Safe ${safe.address} from the policy`);

    const owners = await refusal(run((g) => ({ ...g, safe: { owners: ["account:1", "account:2", "account:5"], threshold: 2, address: safe.address } })));
    expect(owners.code).to.equal("GH240");
    expect(owners.exitCode).to.equal(1);
    expect(owners.message).to.include(`the Safe ${safe.address}`).and.include("safe-owner-extra").and.include("safe-owner-missing");

    const delay = await refusal(run((g) => ({ ...g, delaySeconds: 7200, timelock: timelock.address })));
    expect(delay.code).to.equal("GH240");
    expect(delay.message).to.include(`the TimelockController ${timelock.address}`).and.include("timelock-delay").and.include("7200s");

    // An EOA that still holds DEFAULT_ADMIN_ROLE on a timelock named by the policy: refused, not recorded as renounced.
    const provider = d.ctx.connection.provider;
    await provider.request({ method: "hardhat_impersonateAccount", params: [timelock.address] });
    await provider.request({ method: "hardhat_setBalance", params: [timelock.address, "0x56BC75E2D63100000"] });
    const asTimelock = new Contract(timelock.address, TIMELOCK_ABI, await d.ctx.ethers.getSigner(timelock.address));
    await (await asTimelock.grantRole!(ROLES.DEFAULT_ADMIN_ROLE, d.actors.outsider.address)).wait();
    const admin = await refusal(run((g) => ({ ...g, timelock: timelock.address })));
    expect(admin.message).to.include("extra-admin").and.include(d.actors.outsider.address);
    expect(readDeployment(d.root, "default")!.timelock!.adminRenounced).to.equal(true);
  });

  it("recognises Safe contracts by code hash: a record pointing at other code is refused, look-alike canonical addresses are not used", async () => {
    d = await deployed();
    const record = readDeployment(d.root, "default")!;
    // The record claims the timelock is the Safe singleton: it has code, but not a Safe's.
    writeDeployment(d.root, { ...record, safeInfra: { ...record.safeInfra!, safeSingleton: record.timelock!.address } as typeof record.safeInfra });
    const wrong = await refusal(deployGovernance({ ctx: d.ctx, root: d.root, policy: d.policy, deployer: d.actors.deployer }));
    expect(wrong.code).to.equal("GH241");
    expect(wrong.message).to.include("safeSingleton");

    // Code at every canonical address, but not the Safe's: a fresh deployment deploys its own Safe contracts.
    const provider = d.ctx.connection.provider;
    for (const a of Object.values(CANONICAL_SAFE_1_5_0)) await provider.request({ method: "hardhat_setCode", params: [a, "0x6000"] });
    const root = workspace();
    try {
      const fresh = await deployGovernance({ ctx: d.ctx, root, policy: d.policy, deployer: d.actors.deployer });
      expect(fresh.steps.some((s) => s.startsWith("deployed Safe 1.5.0 contracts")), fresh.steps.join("\n")).to.equal(true);
      expect(getAddress(fresh.record.safeInfra!.safeSingleton!)).to.not.equal(getAddress(CANONICAL_SAFE_1_5_0.safeSingleton));
      expect(fresh.record.timelock!.adminRenounced).to.equal(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
