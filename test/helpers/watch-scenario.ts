import { Contract, ZeroAddress, ZeroHash, concat, getBytes, id, parseEther, toBeHex } from "ethers";
import { HEAD, PROJECT_ROOT, TEST_PROTECTED_BRANCH, type Deployed } from "./fixture.ts";
import type { Actor } from "../../src/chain/context.ts";
import { stage } from "../../src/pipeline/stage.ts";
import { propose } from "../../src/pipeline/propose.ts";
import { sign } from "../../src/pipeline/sign.ts";
import { execute } from "../../src/pipeline/execute.ts";
import type { ProposalRecord } from "../../src/records/proposal.ts";
import { TIMELOCK_ABI, UPGRADE_ABI, upgradeInterface } from "../../src/timelock/calls.ts";

/** Chain actions the watcher tests play: the governed path, and the ways around it a watcher must flag. */

/**
 * Records staged in tests carry the HEAD of the checked-out branch, and the watcher builds it itself: in
 * tests the protected branch is the current one (a feature branch locally, main in CI). The product
 * default (the policy's protectedBranch, "main") is untouched.
 */
export const TEST_COMMIT = HEAD;
export const TEST_BUILD = { repoRoot: PROJECT_ROOT, protectedBranch: TEST_PROTECTED_BRANCH };

/** stage → propose → sign → execute the Safe transaction: the operation is queued on the timelock. */

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

const SAFE_ABI = [
  "function nonce() view returns (uint256)",
  "function getTransactionHash(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, uint256 _nonce) view returns (bytes32)",
  "function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) payable returns (bool)",
  "function execTransactionFromModule(address to, uint256 value, bytes data, uint8 operation) returns (bool)",
  "function enableModule(address module)",
  "function addOwnerWithThreshold(address owner, uint256 _threshold)",
];

/**
 * A Safe transaction signed by `signers` (eth_sign signatures, sorted by owner as the Safe requires) and
 * executed on the real Safe 1.5.0: what the owners do when a proposal tricks them, outside Gatehouse.
 */
export async function execSafeTx(d: Deployed, tx: { to: string; data: string; value?: bigint; safeTxGas?: bigint }, signers: Actor[] = [d.actors.owners[0], d.actors.owners[1]]): Promise<{ safeTxHash: string; nonce: number; txHash: string }> {
  const safe = new Contract(d.setup.deployment.safe.address, SAFE_ABI, d.actors.deployer.signer);
  const nonce = (await safe.nonce()) as bigint;
  const args = [tx.to, tx.value ?? 0n, tx.data, 0, tx.safeTxGas ?? 0n, 0n, 0n, ZeroAddress, ZeroAddress] as const;
  const safeTxHash = (await safe.getTransactionHash(...args, nonce)) as string;
  const sorted = [...signers].sort((a, b) => (BigInt(a.address) < BigInt(b.address) ? -1 : 1));
  const sigs = await Promise.all(
    sorted.map(async (s) => {
      const sig = getBytes(await s.signer.signMessage(getBytes(safeTxHash)));
      sig[64] = sig[64]! + 4; // eth_sign flavour: v + 4
      return sig;
    }),
  );
  const receipt = await (await safe.execTransaction(...args, concat(sigs))).wait();
  return { safeTxHash, nonce: Number(nonce), txHash: receipt!.hash };
}

/** The Safe enables `module`, which then schedules `data` on the timelock as the Safe, with no signatures. */
export async function scheduleThroughModule(d: Deployed, module: Actor, data: string): Promise<string> {
  const safeAddress = d.setup.deployment.safe.address;
  await execSafeTx(d, { to: safeAddress, data: new Contract(safeAddress, SAFE_ABI).interface.encodeFunctionData("enableModule", [module.address]) });
  const safe = new Contract(safeAddress, SAFE_ABI, module.signer);
  const receipt = await (await safe.execTransactionFromModule(d.setup.deployment.timelock.address, 0n, data, 0)).wait();
  return receipt!.hash;
}

export const safeInterface = new Contract(ZeroAddress, SAFE_ABI).interface;
export { toBeHex };
