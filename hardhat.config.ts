import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import chaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import networkHelpers from "@nomicfoundation/hardhat-network-helpers";
import upgrades from "@openzeppelin/hardhat-upgrades";

const require = createRequire(import.meta.url);

// The compiler is the npm `solc` package (wasm), pinned to the same version, so a build never downloads.
// The policy files pin these settings too; `gatehouse check` reports any drift between the two.
export const SOLC_VERSION = "0.8.28";
export const SOLC_SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };

export default defineConfig({
  plugins: [hardhatEthers, hardhatMocha, chaiMatchers, networkHelpers, upgrades],
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: SOLC_SETTINGS,
    npmFilesToBuild: ["@openzeppelin/contracts/governance/TimelockController.sol"],
    // Each source file is compiled on its own (as Hardhat's production profile does), so a contract's
    // bytecode depends only on its own sources: the build of a commit that stage deploys, verify and the
    // watcher rebuild, and check finds again at a later commit, is the same whatever else the project holds.
    isolated: true,
  },
  paths: {
    // test/fixtures/contracts holds deliberately unsafe V2s that the tests feed to `check` and `stage`.
    sources: { solidity: ["contracts", "test/fixtures/contracts"] },
    tests: { mocha: "test" },
  },
  networks: {
    // `hardhat node` on loopback (the CLI across several commands, the workflow tests).
    localhost: { type: "http", chainType: "l1", url: process.env.GATEHOUSE_RPC_URL ?? "http://127.0.0.1:8545" },
    // The staged rollout of .github/gatehouse.json. The URL is read only when the network is used (in CI
    // from the RPC_URL_<NETWORK> secret); keys come from GATEHOUSE_SIGNER_KEY, never from this file.
    // A network takes part once it has policies/<network>.yaml and a committed deployments/<network>.json.
    sepolia: { type: "http", chainType: "l1", chainId: 11155111, url: configVariable("GATEHOUSE_RPC_URL") },
    mainnet: { type: "http", chainType: "l1", chainId: 1, url: configVariable("GATEHOUSE_RPC_URL") },
  },
  // Generous: the first test that builds a commit (git archive + hardhat build) takes 30 s alone and minutes on a busy machine.
  test: { mocha: { timeout: 300_000 } },
});
