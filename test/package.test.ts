import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Contract, JsonRpcProvider } from "ethers";
import { PROJECT_ROOT } from "./helpers/fixture.ts";

/**
 * The package as a user gets it: `npm pack` (prepack compiles dist/), then a scratch Hardhat 3 project
 * made here — its own UUPS pair, its own hardhat.config.ts with hardhat-ethers and the gatehouse plugin,
 * solc from the npm package — runs the installed CLI against a `hardhat node` it spawns: init, deploy,
 * check, stage, propose, sign, execute, and init again from the deployed chain.
 *
 * Installing: the tarball is unpacked into the project's node_modules/gatehouse and the other packages
 * are links to this repository's node_modules (the same versions a registry install resolves; no
 * network). That the tarball's code imports only packages it declares is checked separately below.
 */

const BOX = (version: string, extra: string) => `// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {OwnableUpgradeable} from "@openzeppelin/contracts-upgradeable/access/OwnableUpgradeable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

contract BoxV${version} is Initializable, OwnableUpgradeable, UUPSUpgradeable {
    uint256 public value;
${extra}
    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    function initialize(address owner_) external initializer {
        __Ownable_init(owner_);
    }

    function store(uint256 v) external {
        value = v;
    }

    function version() external pure returns (string memory) {
        return "${version}";
    }

    function _authorizeUpgrade(address) internal override onlyOwner {}
}
`;

const CONFIG = (url: string) => `import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import gatehouse from "gatehouse";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers, gatehouse],
  solidity: {
    version: "0.8.28",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" },
    isolated: true,
  },
  networks: { localhost: { type: "http", chainType: "l1", url: "${url}" } },
});
`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The environment of a user's shell: none of this repository's test settings. */
const userEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HARDHAT_|HH_|GATEHOUSE_)/.test(k)));

describe("package: npm pack, installed into a scratch Hardhat 3 project, through the whole pipeline", function () {
  let tmp: string;
  let project: string;
  let tarball: string;
  let node: ChildProcess | undefined;
  let url: string;
  const timings: Record<string, number> = {};

  const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: project, stdio: ["ignore", "pipe", "pipe"] }).toString().trim();
  /** `npx gatehouse …` in the project: its bin from node_modules/.bin, the project's hardhat.config.ts. */
  const gatehouse = (...args: string[]): { code: number; stdout: string; stderr: string } => {
    const r = spawnSync(path.join(project, "node_modules/.bin/gatehouse"), args, { cwd: project, env: userEnv(), encoding: "utf8" });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };
  const ok = (...args: string[]) => {
    const r = gatehouse(...args);
    expect(r.code, `gatehouse ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).to.equal(0);
    return r;
  };

  before(async function () {
    tmp = mkdtempSync(path.join(tmpdir(), "gatehouse-package-"));
    let t = Date.now();
    const packed = JSON.parse(execFileSync("npm", ["pack", "--pack-destination", tmp, "--json", "--silent"], { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] }).toString()) as { filename: string }[];
    tarball = path.join(tmp, packed[0]!.filename);
    timings.pack = Date.now() - t;

    t = Date.now();
    project = path.join(tmp, "project");
    mkdirSync(path.join(project, "contracts"), { recursive: true });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "scratch-dapp", private: true, type: "module" }, null, 2));
    writeFileSync(path.join(project, "hardhat.config.ts"), CONFIG(url));
    writeFileSync(path.join(project, "contracts/BoxV1.sol"), BOX("1", ""));
    writeFileSync(path.join(project, "contracts/BoxV2.sol"), BOX("2", "    uint256 public updates;\n"));
    writeFileSync(path.join(project, ".gitignore"), "node_modules/\nartifacts/\ncache/\ntypes/\n.gatehouse/\ndeployments/localhost.json\nproposals/localhost/\n");
    // Install: the tarball as node_modules/gatehouse, the rest linked from this repository's node_modules.
    const modules = path.join(project, "node_modules");
    mkdirSync(path.join(modules, ".bin"), { recursive: true });
    for (const entry of readdirSync(path.join(PROJECT_ROOT, "node_modules"))) {
      if (entry === ".bin" || entry === "gatehouse" || entry.startsWith(".")) continue;
      symlinkSync(path.join(PROJECT_ROOT, "node_modules", entry), path.join(modules, entry), "dir");
    }
    execFileSync("tar", ["-xzf", tarball, "-C", tmp]);
    cpSync(path.join(tmp, "package"), path.join(modules, "gatehouse"), { recursive: true });
    symlinkSync("../gatehouse/scripts/gatehouse.mjs", path.join(modules, ".bin/gatehouse"));
    for (const bin of ["hardhat"]) symlinkSync(path.join(PROJECT_ROOT, "node_modules/.bin", bin), path.join(modules, ".bin", bin));
    timings.install = Date.now() - t;

    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "a dapp with a UUPS box");

    node = spawn(process.execPath, [path.join(modules, "hardhat/dist/src/cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)], { cwd: project, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`hardhat node did not start: ${out}`)), 60_000);
      node!.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes(url)) {
          clearTimeout(timer);
          resolve();
        }
      });
      node!.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      node!.on("exit", (code) => reject(new Error(`hardhat node exited with ${code}: ${out}`)));
    });
  });

  after(async () => {
    node?.kill();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    console.log(`      package test timings (ms): ${JSON.stringify(timings)}`);
  });

  it("ships compiled JavaScript, types, the bin, the workflows and the schema; not the sources, tests or contracts", () => {
    const files = execFileSync("tar", ["-tzf", tarball]).toString().split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
    expect(files).to.include.members(["dist/src/index.js", "dist/src/index.d.ts", "dist/src/plugin/index.js", "dist/scripts/gatehouse.js", "scripts/gatehouse.mjs", ".github/workflows/pr.yml", "policies/policy.schema.json", "dist/src/watch/multicall/Multicall3.json", "docs/postmortem-template.md"]);
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")), "TypeScript sources (Node does not strip types under node_modules)").to.deep.equal([]);
    expect(files.filter((f) => /^(test|contracts|src)\//.test(f) || f.endsWith(".sol"))).to.deep.equal([]);
    const pkg = JSON.parse(readFileSync(path.join(project, "node_modules/gatehouse/package.json"), "utf8")) as { private?: boolean; exports: Record<string, unknown> };
    expect(pkg.private).to.equal(undefined);
    expect(Object.keys(pkg.exports)).to.include.members([".", "./hardhat-plugin"]);
  });

  it("imports only Node built-ins and the packages its package.json declares", () => {
    const pkg = JSON.parse(readFileSync(path.join(project, "node_modules/gatehouse/package.json"), "utf8")) as Record<string, Record<string, string> | undefined>;
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
    const undeclared = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, e.name);
        if (e.isDirectory()) walk(file);
        else if (e.name.endsWith(".js")) {
          // Static imports and re-exports (a line of their own in tsc's output), import(), require.resolve().
          const text = readFileSync(file, "utf8");
          const specs = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+["']([^"']+)["'];?$/gm), ...text.matchAll(/^import\s+["']([^"']+)["'];?$/gm), ...text.matchAll(/(?:\bimport|require(?:\.resolve)?)\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
          for (const spec of specs.filter((x) => !x.startsWith("."))) {
            const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
            if (!spec.startsWith("node:") && !builtinModules.includes(name) && !declared.has(name)) undeclared.add(`${name} (${path.relative(project, file)})`);
          }
        }
      }
    };
    walk(path.join(project, "node_modules/gatehouse/dist"));
    expect([...undeclared]).to.deep.equal([]);
  });

  it("init on a dev chain writes the policy from the project's build, the workflows and .github/gatehouse.json; a second run keeps them", () => {
    ok("--version");
    execFileSync(process.execPath, [path.join(project, "node_modules/hardhat/dist/src/cli.js"), "build", "--quiet"], { cwd: project, env: userEnv(), stdio: "ignore" });
    expect(existsSync(path.join(project, "artifacts/@openzeppelin/contracts/governance/TimelockController.sol/TimelockController.json")), "the plugin compiles the TimelockController").to.equal(true);

    const first = ok("init", "--network", "localhost");
    for (const f of ["policies/localhost.yaml", "policies/policy.schema.json", ".github/workflows/gatehouse-pr.yml", ".github/workflows/gatehouse-stage-propose.yml", ".github/gatehouse.json"]) {
      expect(first.stderr + first.stdout).to.include(`wrote ${f}`);
    }
    expect(first.stdout).to.include("next: `gatehouse deploy --network localhost`");
    const policy = readFileSync(path.join(project, "policies/localhost.yaml"), "utf8");
    expect(policy).to.match(/- name: box\n\s+kind: uups\n\s+contract: BoxV1\n\s+initializerArgs: \["timelock"\]/);
    const workflow = readFileSync(path.join(project, ".github/workflows/gatehouse-stage-propose.yml"), "utf8");
    expect(workflow).to.include("node node_modules/gatehouse/dist/scripts/actions/stage-propose.js").and.not.include("scripts/actions/stage-propose.ts");

    const again = ok("init", "--network", "localhost");
    expect(again.stdout).to.include("init: wrote 0 file(s), kept 8");
    expect(readFileSync(path.join(project, "policies/localhost.yaml"), "utf8")).to.equal(policy);
  });

  it("deploy, check, stage, propose, sign and execute upgrade the project's own proxy on `hardhat node`", async () => {
    git("add", "-A");
    git("commit", "-q", "-m", "gatehouse init");
    ok("deploy", "--network", "localhost");
    ok("doctor", "--network", "localhost");

    // The upgrade PR: the policy's target becomes BoxV2, merged to main.
    const file = path.join(project, "policies/localhost.yaml");
    writeFileSync(file, readFileSync(file, "utf8").replace("contract: BoxV1", "contract: BoxV2"));
    git("commit", "-q", "-am", "upgrade box to V2");

    ok("check", "--network", "localhost");
    const staged = JSON.parse(ok("stage", "--network", "localhost", "--json").stdout) as { proposal: { record: { id: string } } };
    const id = staged.proposal.record.id;
    const proposed = JSON.parse(ok("propose", id, "--network", "localhost", "--via", "onchain", "--from", "account:1", "--json").stdout) as { safeTx: { safeTxHash: string } };
    ok("sign", proposed.safeTx.safeTxHash, "--network", "localhost", "--from", "account:2");
    ok("execute", id, "--network", "localhost"); // the Safe transaction: the operation is scheduled

    const provider = new JsonRpcProvider(url);
    try {
      await provider.send("evm_increaseTime", [3600]);
      await provider.send("evm_mine", []);
      const done = ok("execute", id, "--network", "localhost");
      expect(done.stdout).to.include("operation executed");
      const deployment = JSON.parse(readFileSync(path.join(project, "deployments/localhost.json"), "utf8")) as { proxies: Record<string, { address: string }> };
      const box = new Contract(deployment.proxies.box!.address, ["function version() view returns (string)"], provider);
      expect(await box.version!()).to.equal("2");
    } finally {
      provider.destroy();
    }
  });

  it("init from the chain: the Safe's owners and threshold, the timelock's roles and delay, the proxy's kind and the contract it runs", () => {
    const deployment = JSON.parse(readFileSync(path.join(project, "deployments/localhost.json"), "utf8")) as { safe: { address: string; owners: string[] }; timelock: { address: string }; proxies: Record<string, { address: string }> };
    const other = path.join(tmp, "adopted");
    mkdirSync(other);
    const r = ok("init", "--network", "localhost", "--root", other, "--safe", deployment.safe.address, "--timelock", deployment.timelock.address, "--proxy", `box=${deployment.proxies.box!.address}`);
    expect(r.stdout).to.include("next: `gatehouse deploy --network localhost` (it adopts");
    const policy = readFileSync(path.join(other, "policies/localhost.yaml"), "utf8");
    expect(policy).to.include(`address: "${deployment.safe.address}"`).and.include("threshold: 2").and.include(`timelock: "${deployment.timelock.address}"`).and.include("delaySeconds: 3600");
    for (const owner of deployment.safe.owners) expect(policy).to.include(owner);
    expect(policy).to.match(/- name: box\n\s+kind: uups\n\s+contract: BoxV2\n\s+proxy: "0x/);

    const bad = gatehouse("init", "--network", "localhost", "--root", other, "--force", "--proxy", "Box=0x1234");
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include("GH192");
  });
});
