import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { PROJECT_ROOT, workspace } from "./helpers/fixture.ts";
import { COMMANDS, commandHelp } from "../src/cli/main.ts";
import { GatehouseError } from "../src/errors.ts";
import { nodeVersionProblem } from "../scripts/node-version.mjs";

/**
 * Set-up and bad input, as a user meets them: the `gatehouse` bin (scripts/gatehouse.mjs) in a child
 * process, judged by exit code and stderr. Every refusal is exit 2, names the input and what was expected,
 * and never prints a secret (an RPC URL's path or credentials).
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const SECRET = "k3y5ecret0123456789";

function gatehouse(args: string[], env: Record<string, string | undefined> = {}, node = process.execPath): Promise<Run> {
  const base = { ...process.env };
  for (const name of ["GATEHOUSE_NETWORK", "GATEHOUSE_SIGNER_KEY", "GATEHOUSE_RPC_URL"]) delete base[name];
  const merged = { ...base, ...env };
  for (const [k, v] of Object.entries(merged)) if (v === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    execFile(node, ["scripts/gatehouse.mjs", ...args], { cwd: PROJECT_ROOT, env: merged as NodeJS.ProcessEnv, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** An installed Node older than the floor (the machine's /usr/bin/node is 20 here), if any. */
function oldNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node", "/bin/node"]) {
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      if (nodeVersionProblem(version)) return candidate;
    } catch {
      // not runnable
    }
  }
  return undefined;
}

describe("cli: set-up and bad input (child process)", function () {
  this.timeout(90_000);

  it("the Node floor is 22.18 (23.6 on the odd line): the pure check, its words equal GH150", () => {
    for (const ok of ["22.18.0", "v22.18.0", "22.20.1", "23.6.0", "24.0.0", "26.1.0"]) expect(nodeVersionProblem(ok), ok).to.equal(null);
    for (const old of ["22.13.0", "22.17.1", "23.5.0", "20.20.2", "18.0.0"]) {
      expect(nodeVersionProblem(old)).to.equal(`error GH150: ${new GatehouseError("NODE_TOO_OLD", { required: "22.18", actual: `v${old}` }).message}`);
    }
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { engines: { node: string }; bin: { gatehouse: string } };
    expect(pkg.engines.node).to.equal(">=22.18");
    expect(pkg.bin.gatehouse).to.equal("scripts/gatehouse.mjs");
    expect(readFileSync(path.join(PROJECT_ROOT, ".ci/run"), "utf8")).to.include("(a === 22 && b >= 18)");
  });

  it("an older Node gets one line and exit 2, not a stack trace", async function () {
    const node = oldNode();
    if (!node) this.skip(); // no Node older than 22.18 on this machine
    const r = await gatehouse(["status"], {}, node);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/^error GH150: gatehouse needs Node\.js >= 22\.18; this is v\d+\.\d+\.\d+\n$/);
    expect(r.stdout).to.equal("");
  });

  it("--version, and per-command --help listing every flag with its default", async () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string };
    const v = await gatehouse(["--version"]);
    expect(v.code).to.equal(0);
    expect(v.stdout).to.equal(`gatehouse ${pkg.version} (Node.js ${process.version})\n`);
    const h = await gatehouse(["tx-service", "--help"]);
    expect(h.code).to.equal(0);
    expect(h.stdout).to.match(/--port N +TCP port; 0 picks a free one \(default: 8000\)/);
    expect(h.stdout).to.match(/--allowed-host NAME\[:PORT\] \(repeatable\) +also answer/);
    expect(h.stdout).to.match(/--network NAME +the Hardhat network .*\(default: \$GATEHOUSE_NETWORK/);
    // Every command documents every flag it takes.
    for (const [name, load] of Object.entries(COMMANDS)) {
      const cmd = await load();
      for (const flag of Object.keys(cmd.options ?? {})) expect(cmd.flags?.[flag]?.help, `${name} --${flag}`).to.be.a("string");
      expect(commandHelp(name, cmd)).to.include(`Usage: gatehouse ${cmd.usage}`);
    }
  });

  it("--from bob and sign 0x1234: exit 2 naming the input and the expected form, before any connection", async () => {
    const from = await gatehouse(["deploy", "--from", "bob"]);
    expect(from.code, from.stderr).to.equal(2);
    expect(from.stderr).to.include("GH151").and.include("--from 'bob': expected account:N").and.include("0x-prefixed 20-byte address");
    expect(from.stderr).to.not.include("INVALID_ARGUMENT");
    const sign = await gatehouse(["sign", "0x1234"]);
    expect(sign.code, sign.stderr).to.equal(2);
    expect(sign.stderr).to.include("GH156").and.include("safeTxHash '0x1234': expected 0x followed by 64 hex digits");
    const delegate = await gatehouse(["delegate", "add", "0xnope"]);
    expect(delegate.code, delegate.stderr).to.equal(2);
    expect(delegate.stderr).to.include("GH196").and.include("the delegate '0xnope': expected an address");
  });

  it("the RPC: a malformed GATEHOUSE_RPC_URL, an unset one, an unreachable one and one on another chain each name the variable or the origin, never the secret", async () => {
    const bad = await gatehouse(["status", "--network", "localhost"], { GATEHOUSE_RPC_URL: `htp:/${SECRET}` });
    expect(bad.code, bad.stderr).to.equal(2);
    expect(bad.stderr).to.include("GH152").and.include("GATEHOUSE_RPC_URL: expected an http:// or https:// URL");
    expect(bad.stderr).to.not.include(SECRET).and.not.include("HHE15");

    const unset = await gatehouse(["tx-service", "--network", "sepolia", "--port", "0"]);
    expect(unset.code, unset.stderr).to.equal(2);
    expect(unset.stderr).to.include("GH153").and.include("the network 'sepolia' reads its RPC URL from the environment variable GATEHOUSE_RPC_URL, which is not set");

    const port = await closedPort();
    const down = await gatehouse(["tx-service", "--network", "sepolia", "--port", "0"], { GATEHOUSE_RPC_URL: `http://user:${SECRET}@127.0.0.1:${port}/v3/${SECRET}` });
    expect(down.code, down.stderr).to.equal(2);
    expect(down.stderr).to.include("GH155").and.include(`cannot reach the RPC of the network 'sepolia' at http://127.0.0.1:${port}`);
    expect(down.stderr).to.not.include(SECRET);

    // A chain whose id is not sepolia's: Hardhat's own JSON-RPC server on loopback (chain 31337).
    const node = await hre.network.createServer("node", "127.0.0.1", 0);
    try {
      const { address, port: nodePort } = await node.listen();
      const other = await gatehouse(["tx-service", "--network", "sepolia", "--port", "0"], { GATEHOUSE_RPC_URL: `http://${address}:${nodePort}/v3/${SECRET}` });
      expect(other.code, other.stderr).to.equal(2);
      expect(other.stderr).to.include("GH154").and.include(`(http://${address}:${nodePort}) serves chain 31337, but hardhat.config.ts expects chain 11155111`);
      expect(other.stderr).to.not.include(SECRET);

      // review of an operation nobody scheduled, on a deployed topology: exit 2, not "the command line was not understood".
      const root = workspace();
      try {
        copyFileSync(path.join(PROJECT_ROOT, "policies/localhost.yaml"), path.join(root, "policies/localhost.yaml"));
        const env = { GATEHOUSE_RPC_URL: `http://${address}:${nodePort}` };
        const deploy = await gatehouse(["deploy", "--network", "localhost", "--root", root], env);
        expect(deploy.code, deploy.stderr).to.equal(0);
        const unknown = "0x" + "ab".repeat(32);
        const review = await gatehouse(["review", unknown, "--network", "localhost", "--root", root], env);
        expect(review.code, review.stderr).to.equal(2);
        expect(review.stderr).to.include("GH157").and.include(`no operation ${unknown} was ever scheduled on the timelock`);
        expect(review.stderr).to.not.include("The command line was not understood");
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    } finally {
      await node.close();
    }
  });
});
