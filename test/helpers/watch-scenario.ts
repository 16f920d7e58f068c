import { Contract, ZeroHash, id, parseEther } from "ethers";
import { HEAD, type Deployed } from "./fixture.ts";
import { stage } from "../../src/pipeline/stage.ts";
import { propose } from "../../src/pipeline/propose.ts";
import { sign } from "../../src/pipeline/sign.ts";
import { execute } from "../../src/pipeline/execute.ts";
import type { ProposalRecord } from "../../src/records/proposal.ts";
import { TIMELOCK_ABI, UPGRADE_ABI, upgradeInterface } from "../../src/timelock/calls.ts";

/** Chain actions the watcher tests play: the governed path, and the ways around it a watcher must flag. */

/** stage → propose → sign → execute the Safe transaction: the operation is queued on the timelock. */
// The commit under test: sign verifies the implementations against its build before approving.
export const TEST_COMMIT = HEAD;

export async function scheduleThroughPipeline(d: Deployed, commit: string | null = TEST_COMMIT): Promise<ProposalRecord> {
  const staged = await stage({ setup: d.setup, deployer: d.actors.deployer, commit });
  const id = staged.proposal!.record.id;
  const proposed = await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
  await sign({ setup: d.setup, safeTxHash: proposed.safeTx.safeTxHash, signer: d.actors.owners[1] });
  const r = await execute({ setup: d.setup, proposal: id, executor: d.actors.deployer });
  return r.record;
}

export async function executeAfterDelay(d: Deployed, record: ProposalRecord): Promise<void> {
  await d.ctx.connection.networkHelpers.time.increase(Number(record.delay));
  await execute({ setup: d.setup, proposal: record.id, executor: d.actors.outsider });
}

async function impersonate(d: Deployed, address: string) {
  await d.ctx.connection.provider.request({ method: "hardhat_impersonateAccount", params: [address] });
  await d.ctx.connection.provider.request({ method: "hardhat_setBalance", params: [address, "0x" + parseEther("10").toString(16)] });
  return d.ctx.ethers.getSigner(address);
}

/**
 * An operation nobody staged: the Safe's address is impersonated (as if its owners had signed something
 * outside Gatehouse) and schedules an upgrade of the vault to an implementation no record describes.
 */
export async function scheduleOutsidePipeline(d: Deployed, salt = id("outside")): Promise<{ operationId: string; implementation: string }> {
  const impl = await d.ctx.ethers.deployContract("VaultV2", [], d.actors.outsider.signer);
  await impl.waitForDeployment();
  const implementation = await impl.getAddress();
  const safe = await impersonate(d, d.setup.deployment.safe.address);
  const timelock = new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI, safe);
  const vault = d.setup.deployment.proxies.vault!.address;
  const data = upgradeInterface.encodeFunctionData("upgradeToAndCall", [implementation, "0x"]);
  const tx = await timelock.schedule(vault, 0n, data, ZeroHash, salt, 3600n);
  const receipt = await tx.wait();
  const log = receipt!.logs.find((l: { topics: string[] }) => l.topics[0] === timelock.interface.getEvent("CallScheduled")!.topicHash)!;
  return { operationId: log.topics[1]!, implementation };
}

/** An upgrade that bypasses the timelock: the timelock's own address is impersonated and calls the proxy directly. */
export async function upgradeBypassingTimelock(d: Deployed): Promise<{ implementation: string; tx: string }> {
  const impl = await d.ctx.ethers.deployContract("VaultV2", [], d.actors.outsider.signer);
  await impl.waitForDeployment();
  const implementation = await impl.getAddress();
  const timelockSigner = await impersonate(d, d.setup.deployment.timelock.address);
  const vault = new Contract(d.setup.deployment.proxies.vault!.address, UPGRADE_ABI, timelockSigner);
  const tx = await vault.upgradeToAndCall(implementation, "0x");
  const receipt = await tx.wait();
  return { implementation, tx: receipt!.hash };
}

export async function cancelAsGuardian(d: Deployed, operationId: string): Promise<string> {
  const timelock = new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI, d.actors.guardian.signer);
  const receipt = await (await timelock.cancel(operationId)).wait();
  return receipt!.hash;
}

export async function mine(d: Deployed, blocks: number): Promise<void> {
  await d.ctx.connection.provider.request({ method: "hardhat_mine", params: ["0x" + blocks.toString(16)] });
}

/**
 * A proposer with its own key (granted PROPOSER_ROLE by impersonating the timelock), so a test can sign a
 * schedule transaction once and include the very same transaction on two forks of the chain.
 */
export async function rawProposer(d: Deployed): Promise<{ address: string; signSchedule(salt: string): Promise<string>; send(raw: string): Promise<string> }> {
  const { Wallet, ROLE } = { Wallet: (await import("ethers")).Wallet, ROLE: (await import("../../src/timelock/calls.ts")).ROLES.PROPOSER_ROLE };
  const wallet = Wallet.createRandom();
  const provider = d.ctx.connection.provider;
  await provider.request({ method: "hardhat_setBalance", params: [wallet.address, "0x" + parseEther("10").toString(16)] });
  const timelockSigner = await impersonate(d, d.setup.deployment.timelock.address);
  const timelock = new Contract(d.setup.deployment.timelock.address, TIMELOCK_ABI, timelockSigner);
  await (await timelock.grantRole(ROLE, wallet.address)).wait();
  await provider.request({ method: "hardhat_stopImpersonatingAccount", params: [d.setup.deployment.timelock.address] });
  const vault = d.setup.deployment.proxies.vault!.address;
  const implementation = d.setup.deployment.proxies.vault!.initialImplementation;
  return {
    address: wallet.address,
    signSchedule: (salt) =>
      wallet.signTransaction({
        type: 2,
        chainId: d.ctx.chainId,
        nonce: 0,
        to: d.setup.deployment.timelock.address,
        data: timelock.interface.encodeFunctionData("schedule", [vault, 0n, upgradeInterface.encodeFunctionData("upgradeToAndCall", [implementation, "0x"]), ZeroHash, salt, 3600n]),
        gasLimit: 300_000n,
        maxFeePerGas: 100_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
      }),
    send: async (raw) => (await provider.request({ method: "eth_sendRawTransaction", params: [raw] })) as string,
  };
}
