import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { PROJECT_ROOT, workspace } from "./helpers/fixture.ts";

/**
 * The CLI as users run it: `node scripts/gatehouse.ts ...` in a child process, judged by its exit code,
 * stdout and stderr. Exit codes (SPEC): 0 success, 1 a finding or refusal, 2 bad usage, config or input.
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function gatehouse(...args: string[]): Promise<Run> {
  const env = { ...process.env };
  // A developer's own settings must not steer the CLI under test to another network or key.
  delete env.GATEHOUSE_NETWORK;
  delete env.GATEHOUSE_SIGNER_KEY;
  return new Promise((resolve, reject) => {
    // process.execPath: the Node 24 running these tests (it runs the .ts entry point directly).
    execFile(process.execPath, ["scripts/gatehouse.ts", ...args], { cwd: PROJECT_ROOT, env, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** How the CLI names a policy file of a scratch root: relative to its working directory. */
function shownPath(root: string): string {
  return path.relative(PROJECT_ROOT, path.join(root, "policies/default.yaml"));
}

describe("cli (child process)", function () {
  this.timeout(20_000);

  it("a malformed policy: exit 2, naming the file, the field and the expectation", async () => {
    const root = workspace((y) => y.replace("threshold: 2", "threshold: two"));
    const r = await gatehouse("status", "--root", root);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.include("GH102").and.include(shownPath(root)).and.include("governance.safe.threshold").and.include("expected a number");
  });

  it("an unknown command: exit 2, listing the commands", async () => {
    const r = await gatehouse("deplyo");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("GH100").and.include("unknown command 'deplyo'").and.include("deploy");
  });

  it("an unknown flag: exit 2, naming the flag and the command's usage", async () => {
    const r = await gatehouse("status", "--bogus");
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include("GH100").and.include("'--bogus'").and.include("usage: gatehouse status");
  });

  it("help: exit 0, listing every command", async () => {
    const r = await gatehouse("help");
    expect(r.code).to.equal(0);
    const listed = r.stdout
      .split("\n")
      .filter((l) => /^ {2}\w/.test(l))
      .map((l) => l.trim().split(/\s/)[0]);
    expect(listed).to.deep.equal(["deploy", "check", "stage", "propose", "sign", "show", "execute", "cancel", "verify", "status", "doctor", "demo", "watch", "review", "tx-service", "simulate", "delegate", "pause", "incident", "drill", "rollback", "govern", "init"]);
  });

  it("check --json with no deployment record: exit 2 and exactly one JSON document on stdout", async () => {
    const root = workspace();
    const r = await gatehouse("check", "--json", "--root", root);
    expect(r.code, r.stderr).to.equal(2);
    // JSON.parse of the whole of stdout fails if anything else (logs, a second document) was printed there.
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
    expect(doc.ok).to.equal(false);
    expect(doc.error.code).to.equal("GH107");
    expect(doc.error.message).to.include("gatehouse deploy");
  });

  it("deploy, then status in another process: the in-process chain is gone, exit 2 explains why", async () => {
    const root = workspace();
    const deploy = await gatehouse("deploy", "--root", root);
    expect(deploy.code, deploy.stderr).to.equal(0);
    expect(existsSync(path.join(root, "deployments/default.json"))).to.equal(true);
    const timelock = (JSON.parse(readFileSync(path.join(root, "deployments/default.json"), "utf8")) as { timelock: { address: string } }).timelock.address;

    // Each CLI process starts its own empty in-process chain, so the recorded timelock has no code there.
    const status = await gatehouse("status", "--root", root);
    expect(status.code, status.stderr).to.equal(2);
    expect(status.stderr).to.include("GH107").and.include(timelock).and.include("the in-process network starts empty for every command");
    expect(status.stderr).to.include("--network localhost");
  });
});

describe("cli: keys", function () {
  it("refuses a malformed GATEHOUSE_SIGNER_KEY without printing it", async () => {
    const secret = "0xdeadbeef" + "5ec7e7".repeat(4);
    const { actor } = await import("../src/chain/context.ts");
    const previous = process.env.GATEHOUSE_SIGNER_KEY;
    process.env.GATEHOUSE_SIGNER_KEY = secret;
    try {
      await actor({ accounts: [], network: "x" } as never, undefined, "proposer");
      expect.fail("accepted a malformed key");
    } catch (e) {
      expect((e as Error).message).to.contain("GATEHOUSE_SIGNER_KEY");
      expect((e as Error).message).to.not.contain(secret);
      expect((e as { exitCode?: number }).exitCode).to.equal(2);
    } finally {
      if (previous === undefined) delete process.env.GATEHOUSE_SIGNER_KEY;
      else process.env.GATEHOUSE_SIGNER_KEY = previous;
    }
  });
});
