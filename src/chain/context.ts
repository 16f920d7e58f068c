import path from "node:path";
import hre from "hardhat";
import { upgrades, type HardhatUpgrades } from "@openzeppelin/hardhat-upgrades";
import { Wallet, getAddress, type Signer } from "ethers";
import { GatehouseError } from "../errors.ts";
import type { RuntimeArtifact } from "../plan/bytecode.ts";

/**
 * The imperative shell's handle on one Hardhat network: ethers, the EIP-1193 provider, the OZ upgrades
 * API and the accounts. Everything that touches the chain receives one of these; nothing else imports
 * the Hardhat runtime.
 */
export type Connection = Awaited<ReturnType<typeof hre.network.create<"generic">>>;
export type HardhatEthers = Connection["ethers"];

export interface ChainContext {
  network: string;
  chainId: bigint;
  connection: Connection;
  ethers: HardhatEthers;
  /** What protocol-kit takes: an RPC URL for http networks, the EIP-1193 object for the in-process one. */
  safeProvider: string | { request: (args: { method: string; params?: unknown[] | object }) => Promise<unknown> };
  up: HardhatUpgrades;
  /** True on Hardhat's own networks (in-process EDR or `hardhat node`), where time can be advanced. */
  isDevNetwork: boolean;
  accounts: string[];
  /** A compiled contract of this project (Hardhat artifacts), by name. */
  readArtifact(name: string): Promise<RuntimeArtifact & { abi: unknown[]; bytecode: string }>;
  /** Every compiled contract name of this project. */
  contractNames(): Promise<string[]>;
  /** Where Hardhat writes build info (solc input and output), read by the upgrade check. */
  buildInfoDir: string;
  /** The Hardhat project root and its build output folders (artifacts, cache): outputs git must not track. */
  buildOutputs?: { projectRoot: string; dirs: string[] };
  /** Compile (Hardhat `build`); the upgrades plugin refreshes its validation cache as part of it. */
  build(): Promise<void>;
  close(): Promise<void>;
}

export function knownNetworks(): string[] {
  return ["default", ...Object.keys(hre.config.networks).filter((n) => n !== "default")];
}

/** `url`: another RPC URL for an http network than its config's (tests point `localhost` at a node on a free port). */
export async function connect(network: string, opts: { url?: string } = {}): Promise<ChainContext> {
  const known = knownNetworks();
  if (!known.includes(network)) throw new GatehouseError("NETWORK_UNKNOWN", { network, known: known.join(", ") });
  let connection: Connection;
  try {
    connection = await hre.network.create<"generic">(opts.url ? { network, override: { url: opts.url } } : network);
  } catch (e) {
    throw connectionError(network, undefined, e, `connecting to '${network}'`);
  }
  const { ethers } = connection;
  let chainId: bigint;
  let safeProvider: ChainContext["safeProvider"];
  let up: HardhatUpgrades;
  let accounts: string[];
  let rpcUrl: string | undefined;
  try {
    if (connection.networkConfig.type === "http") {
      rpcUrl = await connection.networkConfig.url.getUrl();
      if (!isHttpUrl(rpcUrl)) throw new GatehouseError("RPC_URL_INVALID", { source: rpcSource(network) });
    }
    chainId = (await ethers.provider.getNetwork()).chainId;
    safeProvider = rpcUrl ?? (connection.provider as ChainContext["safeProvider"]);
    up = await upgrades(hre, connection);
    accounts = ((await connection.provider.request({ method: "eth_accounts" })) as string[]).map((a) => getAddress(a));
  } catch (e) {
    await connection.close().catch(() => undefined);
    throw connectionError(network, rpcUrl, e, `reading the chain id of '${network}'`);
  }
  let isDevNetwork = false;
  try {
    await connection.provider.request({ method: "hardhat_metadata" });
    isDevNetwork = true;
  } catch {
    isDevNetwork = false;
  }
  return {
    network,
    chainId,
    connection,
    ethers,
    safeProvider,
    up,
    isDevNetwork,
    accounts,
    readArtifact: (name) => hre.artifacts.readArtifact(name) as never,
    contractNames: async () => [...(await hre.artifacts.getAllFullyQualifiedNames())].map((fq) => fq.split(":").at(-1)!),
    buildInfoDir: path.join(hre.config.paths.artifacts, "build-info"),
    buildOutputs: { projectRoot: hre.config.paths.root, dirs: [hre.config.paths.artifacts, hre.config.paths.cache] },
    build: async () => {
      await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
    },
    close: () => connection.close(),
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/** Where a network's RPC URL comes from, for messages: the template's hardhat.config.ts reads GATEHOUSE_RPC_URL. */
function rpcSource(network: string): string {
  return process.env.GATEHOUSE_RPC_URL ? "GATEHOUSE_RPC_URL" : `networks.${network}.url in hardhat.config.ts`;
}

/** scheme://host:port of a URL: never its path, query or credentials, which may hold an API key. */
export function urlOrigin(url: string | undefined): string {
  if (!url) return "(unknown URL)";
  try {
    return new URL(url).origin;
  } catch {
    return "(unparsable URL)";
  }
}

/**
 * Hardhat's connection errors, by their HHE number, as Gatehouse errors naming what the user controls:
 * HHE7 an unset configuration variable, HHE708 a chain id other than the configured one, HHE703 nothing
 * answering. The URL appears only as its origin; anything else stays CHAIN_CALL_FAILED.
 */
export function connectionError(network: string, rpcUrl: string | undefined, e: unknown, action: string): GatehouseError {
  if (e instanceof GatehouseError) return e;
  const message = e instanceof Error ? e.message : String(e);
  const origin = urlOrigin(rpcUrl);
  const missing = /^HHE7: Configuration Variable "([^"]+)" not found/.exec(message);
  if (missing) return new GatehouseError("RPC_URL_MISSING", { network, env: missing[1] }, { cause: e });
  const mismatch = /^HHE708: .*chain id "(\d+)", but connected to a chain with id "(\d+)"/.exec(message);
  if (mismatch) return new GatehouseError("RPC_CHAIN_MISMATCH", { network, origin, expected: mismatch[1], actual: mismatch[2] }, { cause: e });
  if (/^HHE703:/.test(message) || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|fetch failed/.test(message)) {
    return new GatehouseError("RPC_UNREACHABLE", { network, origin, reason: "connection refused or host not found" }, { cause: e });
  }
  // Other failures keep their first line, with the full URL (if it appears) cut back to its origin.
  const first = message.split("\n")[0]!;
  const reason = rpcUrl ? first.split(rpcUrl).join(origin) : first;
  return new GatehouseError("CHAIN_CALL_FAILED", { action, reason }, { cause: e });
}

/** `account:N` or an address → a checksummed address (account refs need the network's accounts). */
export function resolveAccount(ctx: Pick<ChainContext, "accounts" | "network">, ref: string, source = "account"): string {
  const m = /^account:(\d+)$/.exec(ref);
  if (!m) {
    try {
      return getAddress(ref);
    } catch (e) {
      throw new GatehouseError("ACCOUNT_INVALID", { source, value: ref }, { cause: e });
    }
  }
  const address = ctx.accounts[Number(m[1])];
  if (!address) throw new GatehouseError("USAGE", { message: `${ref}: the network '${ctx.network}' has only ${ctx.accounts.length} accounts` });
  return address;
}

/**
 * Who signs: a node-managed account (`account:N` or an address the node holds), or the private key in
 * GATEHOUSE_SIGNER_KEY. The key is only ever handed to ethers and protocol-kit; it is never printed.
 */
export interface Actor {
  address: string;
  signer: Signer;
  /** protocol-kit's `signer`: an address for node-managed accounts, else the private key. */
  kitSigner: string;
}

export async function actor(ctx: ChainContext, ref: string | undefined, role: string): Promise<Actor> {
  if (ref === undefined) {
    const key = process.env.GATEHOUSE_SIGNER_KEY;
    if (!key) throw new GatehouseError("KEY_MISSING", { role, env: "GATEHOUSE_SIGNER_KEY" });
    // ethers echoes a malformed key in its error message: refuse it here, without the value.
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new GatehouseError("KEY_INVALID", { env: "GATEHOUSE_SIGNER_KEY" });
    const wallet = new Wallet(key, ctx.ethers.provider);
    return { address: wallet.address, signer: wallet, kitSigner: key };
  }
  const address = resolveAccount(ctx, ref, "--from");
  if (!ctx.accounts.includes(address)) throw new GatehouseError("KEY_MISSING", { role: `${role} (${address})`, env: "GATEHOUSE_SIGNER_KEY" });
  return { address, signer: await ctx.ethers.getSigner(address), kitSigner: address };
}

/**
 * What `gatehouse init` writes into a policy and .github/gatehouse.json from the project's
 * hardhat.config.ts: the default build profile's first compiler, and the Solidity source folders
 * relative to the project root.
 */
export function projectBuildConfig(): { root: string; compiler: { version: string; optimizer?: { enabled?: boolean; runs?: number }; evmVersion?: string }; sources: string[] } {
  const compiler = hre.config.solidity.profiles.default?.compilers[0];
  const settings = (compiler?.settings ?? {}) as { optimizer?: { enabled?: boolean; runs?: number }; evmVersion?: string };
  const root = hre.config.paths.root;
  return {
    root,
    compiler: { version: compiler?.version ?? "0.8.28", optimizer: settings.optimizer, evmVersion: settings.evmVersion },
    sources: hre.config.paths.sources.solidity.map((s) => path.relative(root, s).split(path.sep).join("/")),
  };
}
