import { rmSync } from "node:fs";
import { expect } from "chai";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { pausable } from "./helpers/pausable.ts";
import { stage } from "../src/pipeline/stage.ts";
import { executeCalldata, scheduleCalldata } from "../src/proposal/derive.ts";
import { execSafeTx } from "./helpers/watch-scenario.ts";

/**
 * Red team: V2 -> V3 through the governed path, but without the policy's `upgradeCall` (a PR that only moves
 * `contract` to V3 is no policy finding: choosing the target is what an upgrade PR does). The upgrade calls
 * nothing in the proxy, so initializeV3 (reinitializer(2)) stays open: whoever calls it first names the vault's
 * guardian, and the registry's owner (its unpauser and guardian-setter), for good.
 */
describe("red team: V3 reinitializers after an upgrade that did not call them", function () {
  this.timeout(600_000);
  let d: Deployed;
  before(async () => {
    d = await deployed((yaml) =>
      yaml
        .replace("initialContract: VaultV1\n    contract: VaultV2\n    initializerArgs: [timelock]", "initialContract: VaultV2\n    contract: VaultV3\n    initializerArgs: [timelock]\n    upgradeInitializers: [initializeV3]")
        .replace("initialContract: RegistryV1\n    contract: RegistryV2", "initialContract: RegistryV2\n    contract: RegistryV3\n    upgradeInitializers: [initializeV3]"),
    );
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer, commit: null });
    const record = staged.proposal!.record;
    expect(record.operations.map((o) => o.initializer)).to.deep.equal(["0x", "0x"]);
    // propose now refuses it (its simulation sees the registry's owner become zero); owners tricked outside
    // Gatehouse schedule and execute it through the real Safe and timelock anyway.
    await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: scheduleCalldata(record) });
    await d.ctx.connection.networkHelpers.time.increase(Number(record.delay));
    await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: executeCalldata(record) });
    expect(await (await pausable(d, "vault")).version!()).to.match(/^3\./);
  });
  after(async () => {
    await d?.close();
    if (d) rmSync(d.root, { recursive: true, force: true });
  });

  it("a stranger cannot run initializeV3 to make itself the vault's guardian", async () => {
    const vault = await pausable(d, "vault", d.actors.outsider.signer);
    await expect(vault.initializeV3!(d.actors.outsider.address)).to.be.revertedWithCustomError(vault, "OwnableUnauthorizedAccount");
    expect(await vault.guardian!()).to.not.equal(d.actors.outsider.address);
  });

  it("a stranger cannot run initialize (meant for a fresh proxy) to make itself the vault's owner, the upgrade authority", async () => {
    const vault = await pausable(d, "vault", d.actors.outsider.signer);
    await expect(vault.initialize!(d.actors.outsider.address, d.actors.outsider.address)).to.be.revertedWithCustomError(vault, "InitializeOnlyAtDeployment");
    expect(await vault.owner!()).to.equal(d.setup.deployment.timelock.address);
    const registry = await pausable(d, "registry", d.actors.outsider.signer);
    await expect(registry.initialize!("mine", d.actors.outsider.address, d.actors.outsider.address)).to.be.revertedWithCustomError(registry, "InitializeOnlyAtDeployment");
  });

  it("a stranger cannot run initializeV3 to make itself the registry's owner", async () => {
    const registry = await pausable(d, "registry", d.actors.outsider.signer);
    await expect(registry.initializeV3!(d.actors.outsider.address, d.actors.outsider.address)).to.be.revertedWithCustomError(registry, "NotUpgrader");
    expect(await registry.owner!()).to.not.equal(d.actors.outsider.address);
  });
});
