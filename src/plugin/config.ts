import path from "node:path";
import type { ConfigHooks } from "hardhat/types/hooks";
import type { HardhatUserConfig } from "hardhat/types/config";
import type { HardhatUserConfigValidationError } from "hardhat/types/hooks";
import { z } from "zod";
import "./type-extensions.ts";

/** The TimelockController source `deploy` deploys and `doctor` compares with the chain. */
export const TIMELOCK_SOURCE = "@openzeppelin/contracts/governance/TimelockController.sol";

const gatehouseUserConfig = z
  .object({
    root: z.string().min(1, "expected a non-empty folder path").optional(),
    compileTimelock: z.boolean().optional(),
  })
  .strict();

/** Hardhat's `validateUserConfig`: each problem with its config path, e.g. gatehouse.root. Pure. */
export function validateGatehouseConfig(config: HardhatUserConfig): HardhatUserConfigValidationError[] {
  if (config.gatehouse === undefined) return [];
  const parsed = gatehouseUserConfig.safeParse(config.gatehouse);
  if (parsed.success) return [];
  return parsed.error.issues.map((issue) => ({
    path: ["gatehouse", ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))],
    message: issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")} (expected root, compileTimelock)` : issue.message,
  }));
}

/** Adds the TimelockController to the project's npm files to build, unless already there or turned off. Pure. */
export function withTimelockSource(config: HardhatUserConfig): HardhatUserConfig {
  if (config.gatehouse?.compileTimelock === false) return config;
  const s = config.solidity;
  if (s === undefined || typeof s === "string" || Array.isArray(s)) {
    // A version string or list: the object form, with the same compilers, can carry npmFilesToBuild.
    const compilers = s === undefined ? undefined : (typeof s === "string" ? [s] : s).map((version) => ({ version }));
    return compilers ? { ...config, solidity: { compilers, npmFilesToBuild: [TIMELOCK_SOURCE] } } : config;
  }
  const files = s.npmFilesToBuild ?? [];
  if (files.includes(TIMELOCK_SOURCE)) return config;
  return { ...config, solidity: { ...s, npmFilesToBuild: [...files, TIMELOCK_SOURCE] } };
}

export default async (): Promise<Partial<ConfigHooks>> => ({
  extendUserConfig: async (config, next) => next(withTimelockSource(config)),
  validateUserConfig: async (config) => validateGatehouseConfig(config),
  resolveUserConfig: async (userConfig, resolveConfigurationVariable, next) => {
    const resolved = await next(userConfig, resolveConfigurationVariable);
    return {
      ...resolved,
      gatehouse: {
        root: userConfig.gatehouse?.root === undefined ? undefined : path.resolve(resolved.paths.root, userConfig.gatehouse.root),
        compileTimelock: userConfig.gatehouse?.compileTimelock ?? true,
      },
    };
  },
});
