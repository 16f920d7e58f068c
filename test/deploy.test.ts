import { expect } from "chai";
import { readFileSync } from "node:fs";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { deployGovernance } from "../deploy/governance.ts";
import { deploymentPath, readDeployment, writeDeployment } from "../src/records/deployment.ts";
import { doctor } from "../src/pipeline/doctor.ts";

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
});
