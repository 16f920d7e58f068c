import { Contract, getAddress, zeroPadValue, type Provider } from "ethers";
import type { ChainContext } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { findArtifactForCode, type RuntimeArtifact } from "../plan/bytecode.ts";
import { roleHolders } from "../pipeline/doctor.ts";
import { ROLES, TIMELOCK_ABI } from "../timelock/calls.ts";
import { ERC1967_ADMIN_SLOT, ERC1967_IMPLEMENTATION_SLOT } from "../watch/facts.ts";
import { contractsFromArtifacts, type CompilerFacts, type DiscoveredContract, type DiscoveredProject, type ExistingGovernance } from "./render.ts";

/**
 * `gatehouse init`, the chain reads: the Safe's owners and threshold, the timelock's delay and role
 * holders, each proxy's ERC-1967 slots and the project contract its implementation's code matches.
 * Everything here is read from the chain and the project's build; rendering is src/init/render.ts.
 */
export interface DiscoverInput {
  ctx: ChainContext;
  network: string;
  compiler: CompilerFacts;
  safe?: string;
  timelock?: string;
  proxies: { name: string; address: string }[];
}

type ProjectArtifact = RuntimeArtifact & { abi: unknown[]; bytecode: string };

export async function discover(input: DiscoverInput): Promise<DiscoveredProject> {
  const { ctx, network } = input;
  const chainId = Number(ctx.chainId);
  if ((input.safe === undefined) !== (input.timelock === undefined)) {
    throw new GatehouseError("INIT_CANNOT_DISCOVER", { network, chainId, reason: `--safe and --timelock go together (got only ${input.safe ? "--safe" : "--timelock"})` });
  }
  if (!input.safe && !ctx.isDevNetwork) {
    throw new GatehouseError("INIT_CANNOT_DISCOVER", { network, chainId, reason: "not a Hardhat dev chain, so init reads the existing governance: pass --safe ADDR --timelock ADDR" });
  }
  const artifacts = await projectArtifacts(ctx);
  const governance = input.safe ? await readGovernance(ctx.ethers.provider, input.safe, input.timelock!) : undefined;
  const contracts: DiscoveredContract[] =
    input.proxies.length > 0 ? await Promise.all(input.proxies.map((p) => readProxy(ctx.ethers.provider, p, artifacts))) : contractsFromArtifacts(artifacts);
  if (contracts.length === 0) {
    throw new GatehouseError("INIT_CANNOT_DISCOVER", {
      network,
      chainId,
      reason: "no upgradeable contract (one with initialize()) in the project's build: run `npx hardhat build`, or pass --proxy NAME=ADDR for existing proxies",
    });
  }
  return { network, chainId, compiler: input.compiler, governance, contracts };
}

/** The project's own compiled contracts (not the npm packages'), with their runtime code. */
async function projectArtifacts(ctx: ChainContext): Promise<ProjectArtifact[]> {
  const names = [...new Set(await ctx.contractNames())];
  const read = await Promise.all(names.map((n) => ctx.readArtifact(n).catch(() => undefined))); // an ambiguous short name is skipped
  return read.filter((a): a is ProjectArtifact => a !== undefined && !a.sourceName.startsWith("@") && !a.sourceName.startsWith("npm/"));
}

async function readGovernance(provider: Provider, safeAddress: string, timelockAddress: string): Promise<ExistingGovernance> {
  const safeAddr = getAddress(safeAddress);
  const tlAddr = getAddress(timelockAddress);
  const safe = new Contract(safeAddr, ["function getOwners() view returns (address[])", "function getThreshold() view returns (uint256)"], provider);
  let owners: string[];
  let threshold: bigint;
  try {
    [owners, threshold] = await Promise.all([safe.getOwners!() as Promise<string[]>, safe.getThreshold!() as Promise<bigint>]);
  } catch (e) {
    throw new GatehouseError("INIT_NOT_GOVERNANCE", { flag: "--safe", address: safeAddr, reason: "getOwners()/getThreshold() failed: not a Safe on this network" }, { cause: e });
  }
  const timelock = new Contract(tlAddr, TIMELOCK_ABI, provider);
  let minDelay: bigint;
  let roles: Map<string, Set<string>>;
  try {
    [minDelay, roles] = await Promise.all([timelock.getMinDelay!() as Promise<bigint>, roleHolders(timelock)]);
  } catch (e) {
    throw new GatehouseError("INIT_NOT_GOVERNANCE", { flag: "--timelock", address: tlAddr, reason: "getMinDelay() failed: not a TimelockController on this network" }, { cause: e });
  }
  const holders = (role: string) => [...(roles.get(role) ?? [])].sort();
  return {
    safe: { address: safeAddr, owners: owners.map((o) => getAddress(o)), threshold: Number(threshold) },
    timelock: {
      address: tlAddr,
      minDelay: Number(minDelay),
      proposers: holders(ROLES.PROPOSER_ROLE),
      executors: holders(ROLES.EXECUTOR_ROLE),
      cancellers: holders(ROLES.CANCELLER_ROLE),
      admins: holders(ROLES.DEFAULT_ADMIN_ROLE),
    },
  };
}

const slotAddress = (word: string) => getAddress("0x" + zeroPadValue(word, 32).slice(-40));

/** A proxy's kind (an ERC-1967 admin → transparent, else UUPS), implementation, and the project contract it runs. */
async function readProxy(provider: Provider, p: { name: string; address: string }, artifacts: ProjectArtifact[]): Promise<DiscoveredContract> {
  const address = getAddress(p.address);
  const [implWord, adminWord] = await Promise.all([provider.getStorage(address, ERC1967_IMPLEMENTATION_SLOT), provider.getStorage(address, ERC1967_ADMIN_SLOT)]);
  const implementation = slotAddress(implWord);
  if (BigInt(implWord) === 0n) throw new GatehouseError("INIT_NOT_GOVERNANCE", { flag: `--proxy ${p.name}=`, address, reason: "no ERC-1967 implementation slot set: not an ERC-1967 proxy on this network" });
  const admin = BigInt(adminWord) === 0n ? undefined : slotAddress(adminWord);
  const code = await provider.getCode(implementation);
  const match = findArtifactForCode(code, artifacts);
  if (!match) {
    throw new GatehouseError("INIT_UNMATCHED_IMPLEMENTATION", { name: p.name, proxy: address, implementation, hint: artifacts.length === 0 ? " (the project has no build: run `npx hardhat build`)" : "" });
  }
  return { name: p.name, kind: admin ? "transparent" : "uups", contract: match.contractName, proxy: { address, implementation, admin } };
}
