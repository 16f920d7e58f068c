import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildAtCommit, commitBuildDir } from "../src/build/at-commit.ts";
import { checkCommitRef, checkPinnedCompiler, pickTarget, type BuiltArtifact } from "../src/build/target.ts";
import { isGatehouseError } from "../src/errors.ts";
import { PROJECT_ROOT } from "./helpers/fixture.ts";

const PINNED = { version: "0.8.28", optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };

/** A tiny Hardhat 3 project in its own git repository; its config refuses to build when it can see a secret. */
function scratchRepo(): { root: string; git: (...a: string[]) => string } {
  const root = mkdtempSync(path.join(tmpdir(), "gatehouse-build-test-"));
  const git = (...a: string[]) => execFileSync("git", a, { cwd: root, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).toString().trim();
  git("init", "-q", "-b", "main");
  mkdirSync(path.join(root, "contracts"));
  mkdirSync(path.join(root, "test/fixtures"), { recursive: true });
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: "scratch", type: "module", private: true }));
  writeFileSync(
    path.join(root, "hardhat.config.ts"),
    `import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
const require = createRequire(import.meta.url);
// What a hostile config at a recorded commit would try: read the verifier's secrets.
const leaked = Object.keys(process.env).filter((k) => /KEY|TOKEN|SECRET|RPC|GATEHOUSE/.test(k));
if (leaked.length > 0 || (process.env.HOME ?? "").startsWith("/root")) throw new Error("the build saw " + leaked.join(","));
export default defineConfig({
  solidity: { version: "0.8.28", path: require.resolve("solc/soljson.js"), settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" } },
  paths: { sources: { solidity: ["contracts", "test/fixtures"] } },
});
`,
  );
  writeFileSync(path.join(root, "contracts/Box.sol"), "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract Box { uint256 public v; function set(uint256 x) external { v = x; } }\n");
  writeFileSync(path.join(root, "test/fixtures/Shadow.sol"), "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract Shadow { function f() external pure returns (uint256) { return 1; } }\n");
  git("add", "-A");
  git("commit", "-q", "-m", "box");
  return { root, git };
}

describe("build at a commit: what verify and the watcher compare on-chain code with", function () {
  it("takes only a full commit SHA, only the project's own contracts, and only the pinned compiler (pure)", () => {
    for (const bad of ["main", "abc123", "HEAD~1", null, "A".repeat(40)]) {
      expect(() => checkCommitRef(bad)).to.throw().that.satisfies((e: unknown) => isGatehouseError(e, "COMMIT_INVALID") && e.exitCode === 2);
    }
    expect(checkCommitRef("a".repeat(40))).to.equal("a".repeat(40));

    const art = (contractName: string, sourceName: string): BuiltArtifact => ({ contractName, sourceName, deployedBytecode: "0x00" });
    const sha = "b".repeat(40);
    expect(pickTarget([art("VaultV2", "contracts/VaultV2.sol"), art("VaultV2", "test/fixtures/contracts/X.sol")], "VaultV2", sha)).to.deep.include({ ok: true });
    const fixtureOnly = pickTarget([art("Evil", "test/fixtures/contracts/Evil.sol")], "Evil", sha);
    expect(fixtureOnly.ok).to.equal(false);
    expect(!fixtureOnly.ok && fixtureOnly.reason).to.contain("not one of the project's sources");
    const twice = pickTarget([art("A", "contracts/A.sol"), art("A", "contracts/B.sol")], "A", sha);
    expect(!twice.ok && twice.reason).to.contain("ambiguous");

    const settings = { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };
    expect(checkPinnedCompiler([{ solcVersion: "0.8.28", settings }], PINNED)).to.equal(undefined);
    expect(checkPinnedCompiler([{ solcVersion: "0.8.27", settings }], PINNED)).to.contain("solc 0.8.27");
    expect(checkPinnedCompiler([{ solcVersion: "0.8.28", settings: { ...settings, optimizer: { enabled: true, runs: 1 } } }], PINNED)).to.contain("runs 1");
  });

  it("red team: a build cache committed into the repository (.gatehouse/builds/<commit>) is refused, never used", async () => {
    // verify, sign and the watcher reuse <repo>/.gatehouse/builds/<commit> when it holds `complete`: a merged
    // PR that force-adds one for a protected commit would make them compare on-chain code with its artifacts.
    const { root, git } = scratchRepo();
    try {
      const commit = git("rev-parse", "HEAD");
      const dir = path.join(root, ".gatehouse", "builds", commit);
      mkdirSync(path.join(dir, "artifacts", "contracts", "Box.sol"), { recursive: true });
      mkdirSync(path.join(dir, "artifacts", "build-info"), { recursive: true });
      writeFileSync(path.join(dir, "complete"), `${commit}\n`);
      const forged = { _format: "hh3-artifact-1", contractName: "Box", sourceName: "contracts/Box.sol", abi: [], bytecode: "0x00", deployedBytecode: "0x6080deadbeef", linkReferences: {}, deployedLinkReferences: {} };
      writeFileSync(path.join(dir, "artifacts", "contracts", "Box.sol", "Box.json"), JSON.stringify(forged));
      writeFileSync(path.join(dir, "artifacts", "build-info", "forged.json"), JSON.stringify({ solcVersion: "0.8.28", input: { settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" } } }));
      git("add", "-f", ".gatehouse");
      git("commit", "-q", "-m", "a build cache, force-added");
      const err = await buildAtCommit({ repoRoot: root, commit, pinned: PINNED }).then((b) => b.target("Box"), (e: unknown) => e);
      expect(isGatehouseError(err, "BUILD_OUTPUT_TRACKED"), JSON.stringify(err)).to.equal(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("refuses a commit that is not on the protected branch, before building anything", async () => {
    const { root, git } = scratchRepo();
    try {
      git("checkout", "-q", "-b", "attacker");
      writeFileSync(path.join(root, "contracts/Box.sol"), "// SPDX-License-Identifier: MIT\npragma solidity 0.8.28;\ncontract Box { function take() external { selfdestruct(payable(msg.sender)); } }\n");
      git("commit", "-q", "-am", "unreviewed");
      const unmerged = git("rev-parse", "HEAD");
      const err = await buildAtCommit({ repoRoot: root, commit: unmerged, pinned: PINNED }).then(() => undefined, (e: unknown) => e);
      expect(isGatehouseError(err, "COMMIT_NOT_PROTECTED"), String(err)).to.equal(true);
      expect((err as Error).message).to.contain("'main'");
      const missing = await buildAtCommit({ repoRoot: root, commit: "c".repeat(40), pinned: PINNED }).then(() => undefined, (e: unknown) => e);
      expect((missing as Error).message).to.contain("does not have this commit");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("builds a protected commit without the caller's secrets, caches it, and checks the pinned compiler", async () => {
    const { root, git } = scratchRepo();
    const saved = { ...process.env };
    // The verifier's environment holds a signing key, a token and an RPC URL: the commit's config must see none.
    Object.assign(process.env, { GATEHOUSE_SIGNER_KEY: "0x" + "11".repeat(32), GITHUB_TOKEN: "ghs_x", GATEHOUSE_RPC_URL: "http://127.0.0.1:1/secret" });
    try {
      const commit = git("rev-parse", "HEAD");
      const b = await buildAtCommit({ repoRoot: root, commit, pinned: PINNED, nodeModules: path.join(PROJECT_ROOT, "node_modules") });
      const box = b.target("Box");
      expect(box.ok, JSON.stringify(box)).to.equal(true);
      expect(box.ok && box.artifact.deployedBytecode.length).to.be.greaterThan(100);
      expect(b.target("Shadow").ok).to.equal(false);

      expect(existsSync(path.join(commitBuildDir({ repoRoot: root }, commit), "complete"))).to.equal(true);
      // The same build, held to another pin, is refused: the pin is checked on every use, cached or not.
      const err = await buildAtCommit({ repoRoot: root, commit, pinned: { ...PINNED, optimizer: { enabled: true, runs: 1 } } }).then(() => undefined, (e: unknown) => e);
      expect(isGatehouseError(err, "BUILD_NOT_PINNED"), String(err)).to.equal(true);
      expect((err as Error).message).to.contain("optimizer runs 200, the policy pins 1");
    } finally {
      process.env = saved;
      rmSync(root, { recursive: true, force: true });
    }
  });
});
