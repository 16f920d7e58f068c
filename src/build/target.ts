import { GatehouseError } from "../errors.ts";
import type { RuntimeArtifact } from "../plan/bytecode.ts";
import type { ImmutableNames } from "./immutables.ts";

/**
 * Pure rules for a build at a commit: what a commit reference must look like, which artifact is the
 * policy's target, and whether the build used the pinned compiler.
 */

/** The project's own sources. Test fixtures and npm packages are never a governed contract's build. */
export const PROJECT_SOURCES = ["contracts/"];

export interface BuiltArtifact extends RuntimeArtifact {
  abi?: unknown[];
  bytecode?: string;
  buildInfoId?: string;
  /** Names of its immutables by AST id (filled by the commit build, from its build info). */
  immutableNames?: ImmutableNames;
}

export interface PinnedCompiler {
  version: string;
  optimizer: { enabled: boolean; runs: number };
  evmVersion: string;
}

export type TargetLookup = { ok: true; artifact: BuiltArtifact } | { ok: false; reason: string };

/**
 * A commit as records carry it must be a full SHA: a branch name or short SHA can be moved or made to
 * collide, so it names nothing fixed.
 */
export function checkCommitRef(commit: string | null | undefined, where = "the proposal's commit"): string {
  if (typeof commit !== "string" || !/^[0-9a-f]{40}$/.test(commit)) {
    throw new GatehouseError("COMMIT_INVALID", { where, commit: commit === null || commit === undefined ? "(none)" : JSON.stringify(commit).slice(0, 60) });
  }
  return commit;
}

/** The one artifact named `contract` among the project's sources, or why there is none. */
export function pickTarget(artifacts: BuiltArtifact[], contract: string, commit: string, sources = PROJECT_SOURCES): TargetLookup {
  const named = artifacts.filter((a) => a.contractName === contract);
  const own = named.filter((a) => sources.some((s) => a.sourceName.startsWith(s)));
  const at = `the build at commit ${commit.slice(0, 12)}`;
  if (own.length === 1) return { ok: true, artifact: own[0]! };
  if (own.length > 1) return { ok: false, reason: `${own.length} contracts named ${contract} in ${at} (${own.map((a) => a.sourceName).join(", ")}): the name is ambiguous` };
  if (named.length > 0) return { ok: false, reason: `${contract} in ${at} is not one of the project's sources (${sources.join(", ")}): it comes from ${named.map((a) => a.sourceName).join(", ")}` };
  return { ok: false, reason: `no contract ${contract} under ${sources.join(", ")} in ${at}` };
}

/** Undefined when every compilation used the pinned compiler and settings, else what differs. */
export function checkPinnedCompiler(units: { solcVersion: string; settings: unknown }[], pinned: PinnedCompiler): string | undefined {
  if (units.length === 0) return "the build produced no build info";
  for (const u of units) {
    const s = (u.settings ?? {}) as { optimizer?: { enabled?: boolean; runs?: number }; evmVersion?: string };
    if (u.solcVersion !== pinned.version) return `solc ${u.solcVersion}, the policy pins ${pinned.version}`;
    if ((s.optimizer?.enabled ?? false) !== pinned.optimizer.enabled) return `optimizer ${s.optimizer?.enabled ? "enabled" : "disabled"}, the policy pins ${pinned.optimizer.enabled ? "enabled" : "disabled"}`;
    if (pinned.optimizer.enabled && s.optimizer?.runs !== pinned.optimizer.runs) return `optimizer runs ${s.optimizer?.runs}, the policy pins ${pinned.optimizer.runs}`;
    if (s.evmVersion !== pinned.evmVersion) return `evmVersion ${s.evmVersion ?? "(default)"}, the policy pins ${pinned.evmVersion}`;
  }
  return undefined;
}
