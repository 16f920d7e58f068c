import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
// The Gatehouse plugin, as a project that installed the package imports it (`import gatehouse from
// "gatehouse"`); this repository is the package, so it imports the source. It brings hardhat-ethers and
// OpenZeppelin's upgrades plugin, and compiles the TimelockController.
import gatehouse from "./src/plugin/index.ts";

const require = createRequire(import.meta.url);

// Test-only: `hardhat test`, and the processes it starts (Hardhat's test runner sets HH_TEST=true for them),
// add the mocha and chai plugins and the deliberately unsafe fixtures of test/fixtures/contracts. A CLI run
// (`npx gatehouse`, `npm run demo`) and a product build (`hardhat build`, a build at a commit) load neither.
const TESTING = (/hardhat/.test(process.argv[1] ?? "") && process.argv.slice(2).includes("test")) || process.env.HH_TEST === "true";
const testPlugins = TESTING
  ? await Promise.all([import("@nomicfoundation/hardhat-mocha"), import("@nomicfoundation/hardhat-ethers-chai-matchers"), import("@nomicfoundation/hardhat-network-helpers")]).then((ms) => ms.map((m) => m.default))
  : [];

// The compiler is the npm `solc` package (wasm), pinned to the same version, so a build never downloads.
// The policy files pin these settings too; `gatehouse check` reports any drift between the two.
export const SOLC_VERSION = "0.8.28";
export const SOLC_SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };

export default defineConfig({
  plugins: [gatehouse, ...testPlugins],
  solidity: {
    version: SOLC_VERSION,
    path: require.resolve("solc/soljson.js"),
    settings: SOLC_SETTINGS,
    // Each source file is compiled on its own (as Hardhat's production profile does), so a contract's
    // bytecode depends only on its own sources: the build of a commit that stage deploys, verify and the
    // watcher rebuild, and check finds again at a later commit, is the same whatever else the project holds.
    isolated: true,
  },
  paths: {
    // test/fixtures/contracts holds deliberately unsafe V2s that the tests feed to `check` and `stage`.
    sources: { solidity: TESTING ? ["contracts", "test/fixtures/contracts"] : ["contracts"] },
    // Hardhat compiles every .sol under the Solidity tests folder (default: test/) with `hardhat build`; this
    // project has no Solidity tests, and the fixtures must stay out of the product build.
    tests: { mocha: "test", solidity: "test/solidity" },
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
