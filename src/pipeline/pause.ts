import { Contract, Interface, getAddress } from "ethers";
import type { Actor } from "../chain/context.ts";
import { GatehouseError } from "../errors.ts";
import { callsTxBuilderFile, type TxBuilderFile } from "../review/tx-builder.ts";
import type { Setup } from "./setup.ts";

/**
 * `gatehouse pause <contract…|--all>`: the guardian stops a governed contract at once (VaultV3,
 * RegistryV3: `pause()` by their `guardian()`; only the owner, the timelock, unpauses). Who may pause is
 * read from the chain, never from the policy or a record; nothing is sent unless every named contract
 * can be paused by the acting key. With a guardian Safe the calls are written as a Transaction Builder file.
 */
export const PAUSE_ABI = [
  "function paused() view returns (bool)",
  "function guardian() view returns (address)",
  "function owner() view returns (address)",
  "function pause()",
  "function unpause()",
] as const;
export const pauseInterface = new Interface([...PAUSE_ABI]);

/** One governed proxy's pause facts, as the chain says them. `pausable: false` when it has no guardian pause. */
export interface PauseState {
  contract: string;
  proxy: string;
  pausable: boolean;
  paused?: boolean;
  /** The account that may pause (`guardian()`), zero when nobody may. */
  pauser?: string;
  /** The account that may unpause (`owner()`), when the contract says. */
  unpauser?: string;
  reason?: string;
}

/** The governed contracts a command names (`--all`: every one the deployment record holds), checked against the record. */
export function pauseTargets(setup: Pick<Setup, "deployment" | "policy">, names: string[], all: boolean): string[] {
  const known = Object.keys(setup.deployment.proxies);
  if (all) return known;
  if (names.length === 0) throw new GatehouseError("USAGE", { message: "name the contracts to pause (e.g. vault registry), or --all" });
  for (const n of names) {
    if (!known.includes(n)) throw new GatehouseError("USAGE", { message: `unknown governed contract '${n}' (expected one of: ${known.join(", ") || "none deployed"})` });
  }
  return [...new Set(names)];
}

export async function readPauseState(setup: Pick<Setup, "ctx" | "deployment">, contract: string): Promise<PauseState> {
  const proxy = getAddress(setup.deployment.proxies[contract]!.address);
  const c = new Contract(proxy, PAUSE_ABI, setup.ctx.ethers.provider);
  const [paused, pauser, owner] = await Promise.allSettled([c.paused!() as Promise<boolean>, c.guardian!() as Promise<string>, c.owner!() as Promise<string>]);
  if (paused.status === "rejected" || pauser.status === "rejected") {
    return { contract, proxy, pausable: false, reason: "its implementation has no paused()/guardian(); upgrade it to a pausable version through the timelock" };
  }
  return { contract, proxy, pausable: true, paused: paused.value, pauser: getAddress(pauser.value), ...(owner.status === "fulfilled" ? { unpauser: getAddress(owner.value) } : {}) };
}

export interface PauseResult {
  contract: string;
  proxy: string;
  alreadyPaused: boolean;
  tx?: string;
}

/** Refuse before sending anything: every contract must be pausable and paused by `guardian`. */
export async function pausePreflight(setup: Pick<Setup, "ctx" | "deployment">, contracts: string[], guardian: string): Promise<PauseState[]> {
  const states = await Promise.all(contracts.map((c) => readPauseState(setup, c)));
  for (const s of states) {
    if (!s.pausable) throw new GatehouseError("NOT_PAUSABLE", { contract: s.contract, proxy: s.proxy, reason: s.reason });
    if (!s.paused && s.pauser !== getAddress(guardian)) throw new GatehouseError("NOT_PAUSER", { address: getAddress(guardian), contract: s.contract, proxy: s.proxy, pauser: s.pauser });
  }
  return states;
}

/** Pause one contract whose state was just read: a no-op when it is paused already. */
export async function pauseOne(state: PauseState, guardian: Actor): Promise<PauseResult> {
  if (state.paused) return { contract: state.contract, proxy: state.proxy, alreadyPaused: true };
  const c = new Contract(state.proxy, PAUSE_ABI, guardian.signer);
  const receipt = await (await c.pause!()).wait();
  return { contract: state.contract, proxy: state.proxy, alreadyPaused: false, tx: receipt!.hash };
}

export async function pause(opts: { setup: Setup; contracts: string[]; guardian: Actor }): Promise<PauseResult[]> {
  const states = await pausePreflight(opts.setup, opts.contracts, opts.guardian.address);
  const out: PauseResult[] = [];
  for (const s of states) out.push(await pauseOne(s, opts.guardian));
  return out;
}

/**
 * The Transaction Builder file that pauses the contracts not yet paused, for the guardian Safe that each
 * names as its pauser (refused when they name different pausers or one is not a contract).
 */
export async function pauseBuilder(setup: Setup, contracts: string[]): Promise<{ file: TxBuilderFile; states: PauseState[] }> {
  const states = await Promise.all(contracts.map((c) => readPauseState(setup, c)));
  for (const s of states) if (!s.pausable) throw new GatehouseError("NOT_PAUSABLE", { contract: s.contract, proxy: s.proxy, reason: s.reason });
  const todo = states.filter((s) => !s.paused);
  const pausers = [...new Set(todo.map((s) => s.pauser!))];
  if (pausers.length > 1) throw new GatehouseError("USAGE", { message: `the contracts name different pausers (${pausers.join(", ")}): write one file per guardian Safe` });
  const safe = pausers[0];
  if (safe && (await setup.ctx.ethers.provider.getCode(safe)) === "0x") {
    throw new GatehouseError("USAGE", { message: `the pauser ${safe} is an account, not a Safe: pause with its key (--from) instead of a Transaction Builder file` });
  }
  const file = callsTxBuilderFile({
    chainId: setup.ctx.chainId,
    safe,
    name: `Pause ${todo.map((s) => s.contract).join(", ") || "nothing (all paused)"}`,
    description: `Gatehouse: pause ${todo.map((s) => `${s.contract} (${s.proxy})`).join(", ")} on ${setup.ctx.network}. Only the timelock can unpause.`,
    createdAt: Date.now(),
    calls: todo.map((s) => ({ to: s.proxy, data: pauseInterface.encodeFunctionData("pause"), method: "pause" })),
  });
  return { file, states };
}
