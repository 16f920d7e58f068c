import type { HardhatPlugin } from "hardhat/types/plugins";
import "./type-extensions.ts";

/**
 * The Hardhat 3 plugin (`plugins: [gatehouse]` in hardhat.config.ts): the `gatehouse: { ... }` config
 * field, validated with zod; the TimelockController compiled with the project; and the plugins the CLI
 * drives (hardhat-ethers for contracts and signers, OpenZeppelin's upgrades for the upgrade-safety check).
 * The CLI (`npx gatehouse`) loads the project's hardhat.config.ts, so it sees the project's contracts and
 * networks. Test plugins (mocha, chai matchers) stay the project's own choice.
 */
const gatehouse: HardhatPlugin = {
  id: "gatehouse",
  npmPackage: "gatehouse",
  dependencies: () => [import("@nomicfoundation/hardhat-ethers"), import("@openzeppelin/hardhat-upgrades")],
  hookHandlers: {
    config: () => import("./config.ts"),
  },
};

export default gatehouse;
export type { GatehouseConfig, GatehouseUserConfig } from "./type-extensions.ts";
