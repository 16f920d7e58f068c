import "hardhat/types/config";

/** `gatehouse: { ... }` in hardhat.config.ts (validated by src/plugin/config.ts). */
export interface GatehouseUserConfig {
  /** The folder holding policies/, deployments/ and proposals/, relative to hardhat.config.ts (default: the current directory). */
  root?: string;
  /** Compile OpenZeppelin's TimelockController with the project, which `deploy` and `doctor` read (default true). */
  compileTimelock?: boolean;
}

export interface GatehouseConfig {
  /** Absolute path, when the config sets it; the CLI's default is then this instead of the current directory. */
  root?: string;
  compileTimelock: boolean;
}

declare module "hardhat/types/config" {
  interface HardhatUserConfig {
    gatehouse?: GatehouseUserConfig;
  }
  interface HardhatConfig {
    gatehouse: GatehouseConfig;
  }
}
