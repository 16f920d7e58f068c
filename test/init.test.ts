import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect } from "chai";
import { parsePolicy } from "../src/policy/load.ts";
import { adaptWorkflow, contractsFromArtifacts, parseProxyFlags, renderPolicyYaml, renderWorkflowConfig, type DiscoveredProject } from "../src/init/render.ts";
import { TIMELOCK_SOURCE, validateGatehouseConfig, withTimelockSource } from "../src/plugin/config.ts";
import { GatehouseConfig } from "../src/actions/config.ts";
import { PROJECT_ROOT } from "./helpers/fixture.ts";

const SAFE = "0x1111111111111111111111111111111111111111";
const TIMELOCK = "0x2222222222222222222222222222222222222222";
const GUARDIAN = "0x3333333333333333333333333333333333333333";
const OWNERS = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"];
const ZERO = "0x0000000000000000000000000000000000000000";

const existing = (over: Partial<DiscoveredProject> = {}): DiscoveredProject => ({
  network: "sepolia",
  chainId: 11155111,
  compiler: { version: "0.8.28", optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
  governance: {
    safe: { address: SAFE, owners: OWNERS, threshold: 2 },
    timelock: { address: TIMELOCK, minDelay: 172800, proposers: [SAFE], executors: [ZERO], cancellers: [SAFE, GUARDIAN], admins: [TIMELOCK] },
  },
  contracts: [
    { name: "vault", kind: "uups", contract: "VaultV2", proxy: { address: "0x4444444444444444444444444444444444444444", implementation: "0x5555555555555555555555555555555555555555" } },
    { name: "registry", kind: "transparent", contract: "RegistryV1", proxy: { address: "0x6666666666666666666666666666666666666666", implementation: "0x7777777777777777777777777777777777777777", admin: "0x8888888888888888888888888888888888888888" } },
  ],
  ...over,
});

describe("init: discovered facts → policy, workflows, config (pure)", () => {
  it("renders the chain's governance as a policy the schema accepts: Safe, guardian (cancellers but the Safe), open executor, delay", () => {
    const policy = parsePolicy(renderPolicyYaml(existing()), "policies/sepolia.yaml", "sepolia");
    expect(policy.governance).to.deep.include({ safe: { address: SAFE, owners: OWNERS, threshold: 2 }, timelock: TIMELOCK, guardian: [GUARDIAN], executor: "open", delaySeconds: 172800 });
    expect(policy.rules).to.deep.include({ minDelaySeconds: 172800, minThreshold: 2 });
    expect(policy.contracts.map((c) => [c.name, c.kind, c.contract, c.proxy])).to.deep.equal([
      ["vault", "uups", "VaultV2", "0x4444444444444444444444444444444444444444"],
      ["registry", "transparent", "RegistryV1", "0x6666666666666666666666666666666666666666"],
    ]);
  });

  it("an executor role held by the Safe only is `executor: safe`; no guardian on chain leaves the Safe, with a comment", () => {
    const g = existing().governance!;
    const text = renderPolicyYaml(existing({ governance: { ...g, timelock: { ...g.timelock, executors: [SAFE], cancellers: [SAFE] } } }));
    const policy = parsePolicy(text, "policies/sepolia.yaml", "sepolia");
    expect(policy.governance.executor).to.equal("safe");
    expect(policy.governance.guardian).to.deep.equal([SAFE]);
    expect(text).to.include("none on chain: the Safe stands in");
  });

  it("without governance (a dev chain): Hardhat's accounts, and the project's initializable contracts as new proxies", () => {
    const art = (contractName: string, abi: unknown[], sourceName = `contracts/${contractName}.sol`) => ({ contractName, sourceName, abi, bytecode: "0x6080" });
    const init = (...types: string[]) => ({ type: "function", name: "initialize", inputs: types.map((type) => ({ type })) });
    const uups = { type: "function", name: "proxiableUUID", inputs: [] };
    const contracts = contractsFromArtifacts([
      art("BoxV2", [init("address"), uups]),
      art("BoxV1", [init("address"), uups]),
      art("NameRegistry", [init("string")]),
      art("Plain", [{ type: "function", name: "f", inputs: [] }]),
      art("TimelockController", [init("address")], "@openzeppelin/contracts/governance/TimelockController.sol"),
    ]);
    expect(contracts.map((c) => [c.name, c.kind, c.contract, c.initializerArgs])).to.deep.equal([
      ["box", "uups", "BoxV1", ["timelock"]],
      ["name-registry", "transparent", "NameRegistry", [""]],
    ]);
    const policy = parsePolicy(renderPolicyYaml({ ...existing(), network: "localhost", chainId: 31337, governance: undefined, contracts }), "policies/localhost.yaml", "localhost");
    expect(policy.governance.safe).to.deep.equal({ owners: ["account:1", "account:2", "account:3"], threshold: 2 });
    expect(policy.contracts[0]).to.deep.include({ name: "box", contract: "BoxV1", initializerArgs: ["timelock"] });
  });

  it("--proxy NAME=ADDR: malformed or repeated names are refused", () => {
    const fail = (value: string, reason: string) => new Error(`${value}: ${reason}`);
    expect(parseProxyFlags(["vault=0x4444444444444444444444444444444444444444"], fail)).to.deep.equal([{ name: "vault", address: "0x4444444444444444444444444444444444444444" }]);
    expect(() => parseProxyFlags(["Vault=0x4444444444444444444444444444444444444444"], fail)).to.throw("expected NAME=ADDR");
    expect(() => parseProxyFlags(["vault=0x44"], fail)).to.throw("expected NAME=ADDR");
    expect(() => parseProxyFlags(["v=0x4444444444444444444444444444444444444444", "v=0x5555555555555555555555555555555555555555"], fail)).to.throw("given twice");
  });

  it("the workflows run the installed package's compiled scripts, and dispatch each other by their new names", () => {
    for (const f of ["pr.yml", "stage-propose.yml", "execute.yml", "watch.yml", "pr-comment.yml"]) {
      const text = adaptWorkflow(readFileSync(`.github/workflows/${f}`, "utf8"));
      expect(text, f).to.not.match(/node scripts\/actions\/|npm run compile|(^|[^\w/-])scripts\/actions\/commit-records/m);
      expect(adaptWorkflow(text), `${f} adapted twice`).to.equal(text);
    }
    const execute = adaptWorkflow(readFileSync(".github/workflows/execute.yml", "utf8"));
    expect(execute).to.include("node node_modules/gatehouse/dist/scripts/actions/execute.js").and.include("INPUT_WORKFLOW: gatehouse-stage-propose.yml");
  });

  it(".github/gatehouse.json is valid for the workflows' config schema", () => {
    const c = GatehouseConfig.parse(JSON.parse(renderWorkflowConfig({ network: "sepolia", chainId: 11155111, sources: ["contracts"] })));
    expect(c.rollout).to.deep.equal({ testnet: "sepolia", mainnet: "mainnet" });
    expect(c.auditSources).to.deep.equal(["contracts"]);
  });
});

describe("Hardhat plugin config (pure)", () => {
  it("validates the gatehouse field with its path", () => {
    expect(validateGatehouseConfig({})).to.deep.equal([]);
    expect(validateGatehouseConfig({ gatehouse: { root: "gov" } })).to.deep.equal([]);
    const errors = validateGatehouseConfig({ gatehouse: { root: 7, policyDir: "x" } as never });
    expect(errors.map((e) => e.path.join("."))).to.include.members(["gatehouse.root", "gatehouse"]);
    expect(errors.find((e) => e.path.length === 1)!.message).to.include("policyDir");
  });

  it("adds the TimelockController to the npm files to build, once, unless turned off", () => {
    const once = withTimelockSource({ solidity: { version: "0.8.28", npmFilesToBuild: ["x/Y.sol"] } });
    expect((once.solidity as { npmFilesToBuild: string[] }).npmFilesToBuild).to.deep.equal(["x/Y.sol", TIMELOCK_SOURCE]);
    expect(withTimelockSource(once)).to.deep.equal(once);
    expect((withTimelockSource({ solidity: "0.8.28" }).solidity as { compilers: unknown[]; npmFilesToBuild: string[] }).npmFilesToBuild).to.deep.equal([TIMELOCK_SOURCE]);
    const off = { gatehouse: { compileTimelock: false }, solidity: "0.8.28" };
    expect(withTimelockSource(off)).to.equal(off);
  });
});

describe("this repository as a project that uses the plugin", () => {
  it("outside `hardhat test` (a CLI run, `hardhat build`), neither the test plugins nor the unsafe fixtures load", () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HARDHAT_|HH_)/.test(k)));
    const script = "const { default: hre } = await import('hardhat'); console.log(JSON.stringify({ plugins: hre.config.plugins.map((p) => p.id), sources: hre.config.paths.sources.solidity, tests: hre.config.paths.tests.solidity, gatehouse: hre.config.gatehouse }))";
    const cfg = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: PROJECT_ROOT, env }).toString()) as { plugins: string[]; sources: string[]; tests: string; gatehouse: { root: string } };
    expect(cfg.plugins).to.include.members(["gatehouse", "hardhat-ethers", "@openzeppelin/hardhat-upgrades"]);
    expect(cfg.plugins.filter((id) => /mocha|chai|network-helpers/.test(id))).to.deep.equal([]);
    expect(cfg.sources.map((s) => s.slice(PROJECT_ROOT.length))).to.deep.equal(["/contracts"]);
    expect(cfg.tests).to.not.equal(`${PROJECT_ROOT}/test`); // every .sol under the Solidity tests folder would be built
    expect(cfg.gatehouse.root, "no gatehouse.root: the CLI keeps the current directory").to.equal(undefined);
  });
});
