import { Contract } from "ethers";
import { deployed, type Deployed } from "./fixture.ts";
import { stage } from "../../src/pipeline/stage.ts";
import { propose } from "../../src/pipeline/propose.ts";
import { sign } from "../../src/pipeline/sign.ts";
import { execute } from "../../src/pipeline/execute.ts";

/**
 * The default policy moved one version on: proxies deployed at V2, target V3 (pausable), each upgrade
 * calling its reinitializer that names the guardian (and, for the registry, the timelock as owner).
 */
export function v2ToV3(yaml: string): string {
  return yaml
    .replace(
      "initialContract: VaultV1\n    contract: VaultV2\n    initializerArgs: [timelock]",
      "initialContract: VaultV2\n    contract: VaultV3\n    initializerArgs: [timelock]\n    upgradeInitializers: [initializeV3]\n    upgradeCall: { function: initializeV3, args: [guardian] }\n    allowWrites: [guardian, Initializable._initialized]",
    )
    .replace(
      "initialContract: RegistryV1\n    contract: RegistryV2",
      "initialContract: RegistryV2\n    contract: RegistryV3\n    upgradeInitializers: [initializeV3]\n    upgradeCall: { function: initializeV3, args: [timelock, guardian] }\n    allowWrites: [guardian, Initializable._initialized, Ownable._owner]",
    );
}

/**
 * A chain whose proxies run VaultV3 and RegistryV3, reached the governed way: stage (the working build),
 * propose, sign, execute the Safe transaction, wait the delay, execute the operation.
 */
export async function pausableDeployed(): Promise<Deployed> {
  const d = await deployed(v2ToV3);
  const staged = await stage({ setup: d.setup, deployer: d.actors.deployer, commit: null });
  const id = staged.proposal!.record.id;
  const proposed = await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
  await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1], build: "current" });
  const queued = await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
  // Plain JSON-RPC, not network-helpers: the incident bench uses this helper outside `hardhat test`, where that test plugin is not loaded.
  await d.ctx.connection.provider.request({ method: "evm_increaseTime", params: [Number(queued.record.delay)] });
  await d.ctx.connection.provider.request({ method: "evm_mine", params: [] });
  await execute({ setup: d.setup, proposal: id, executor: d.actors.outsider });
  return d;
}

/** A governed proxy through its V3 ABI (custom errors included), read-only unless a signer is given. */
export function pausable(d: Deployed, name: "vault" | "registry", runner?: unknown): Promise<Contract> {
  return d.ctx.ethers.getContractAt(name === "vault" ? "VaultV3" : "RegistryV3", d.setup.deployment.proxies[name]!.address, runner as never) as unknown as Promise<Contract>;
}
