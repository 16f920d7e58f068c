import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { isGatehouseError } from "../src/errors.ts";
import { refuseTrackedBuildOutputs, trackedBuildOutputs } from "../src/check/tracked-outputs.ts";
import { buildOutputFindings } from "../src/actions/audit.ts";

/**
 * Red team: a branch force-adds Hardhat's compile cache and artifacts. Hardhat skips compiling a root whose
 * cache entry has the current job hash and whose named files exist, so a committed entry for the real
 * (malicious) source pointing at a benign build makes `check` audit the benign build; in a checkout at a
 * predictable path (the PR audit's `.base`, a runner's workspace) the absolute paths in the entry match.
 */
describe("red team: committed build outputs", () => {
  let repo: string;
  beforeEach(() => {
    repo = mkdtempSync(path.join(tmpdir(), "gatehouse-outputs-"));
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.email=m@example.com", "-c", "user.name=mallory", ...args], { cwd: repo, stdio: "pipe" });
    git("init", "-q");
    writeFileSync(path.join(repo, ".gitignore"), "artifacts/\ncache/\n");
    mkdirSync(path.join(repo, "contracts"));
    writeFileSync(path.join(repo, "contracts/Vault.sol"), "// the source a reviewer reads\n");
    git("add", ".");
    git("commit", "-qm", "sources");
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  const dirs = () => [path.join(repo, "artifacts"), path.join(repo, "cache")];

  it("check refuses (GH263) when git tracks a forged compile cache and artifacts, and not before", () => {
    expect(() => refuseTrackedBuildOutputs(repo, dirs())).to.not.throw();
    mkdirSync(path.join(repo, "cache"));
    mkdirSync(path.join(repo, "artifacts/contracts/Vault.sol"), { recursive: true });
    const forgedEntry = { jobHash: "solc-0_8_28-<hash of the malicious source's job>", artifactPaths: [path.join(repo, "artifacts/contracts/Vault.sol/Vault.json")], artifactsDirectory: path.join(repo, "artifacts") };
    writeFileSync(path.join(repo, "cache/compile-cache.json"), JSON.stringify({ [path.join(repo, "contracts/Vault.sol")]: forgedEntry }));
    writeFileSync(path.join(repo, "artifacts/contracts/Vault.sol/Vault.json"), "{}");
    // Untracked outputs are the normal case: the build wrote them.
    expect(() => refuseTrackedBuildOutputs(repo, dirs())).to.not.throw();
    execFileSync("git", ["add", "-f", "cache", "artifacts"], { cwd: repo, stdio: "pipe" });
    expect(trackedBuildOutputs(repo, dirs())).to.deep.equal(["artifacts/contracts/Vault.sol/Vault.json", "cache/compile-cache.json"]);
    try {
      refuseTrackedBuildOutputs(repo, dirs());
      expect.fail("check accepted tracked build outputs");
    } catch (e) {
      expect(isGatehouseError(e, "BUILD_OUTPUT_TRACKED"), String(e)).to.equal(true);
      expect((e as { code?: string }).code).to.equal("GH263");
      expect((e as Error).message).to.include("cache/compile-cache.json");
      expect((e as { exitCode?: number }).exitCode).to.equal(1);
    }
  });

  it("the PR audit names a committed artifact or compile cache as a finding, and nothing else", () => {
    const f = buildOutputFindings(["artifacts/build-info/x.json", "cache/compile-cache.json", ".gatehouse/builds/abc/complete", "contracts/Vault.sol", "src/cache.ts"]);
    expect(f.map((x) => [x.kind, x.file])).to.deep.equal([
      ["build-output-committed", "artifacts/build-info/x.json"],
      ["build-output-committed", "cache/compile-cache.json"],
      ["build-output-committed", ".gatehouse/builds/abc/complete"],
    ]);
  });
});
