import { expect } from "chai";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { ZeroAddress } from "ethers";
import { deployed, HEAD, PROJECT_ROOT, TEST_PROTECTED_BRANCH, TEST_SOURCE, workspace, type Deployed } from "./helpers/fixture.ts";
import { actor, connect } from "../src/chain/context.ts";
import { loadPolicy } from "../src/policy/load.ts";
import { loadSetup, type Setup } from "../src/pipeline/setup.ts";
import { changedBuildInputs, stage } from "../src/pipeline/stage.ts";
import { propose } from "../src/pipeline/propose.ts";
import { sign } from "../src/pipeline/sign.ts";
import { execute } from "../src/pipeline/execute.ts";
import { renderChecks, verify, verifyRecord } from "../src/pipeline/verify.ts";
import { readProposalFile, writeProposal, type ProposalRecord, type SafeTxRecord } from "../src/records/proposal.ts";
import { safeTxHashes } from "../src/safe/hash.ts";
import { approveSafeTx, safeTxData } from "../src/safe/transactions.ts";
import { safeTxShapeViolations } from "../src/safe/shape.ts";
import { GatehouseError } from "../src/errors.ts";

async function rejection(p: Promise<unknown>): Promise<GatehouseError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e, "expected a refusal, but it succeeded").to.be.instanceOf(GatehouseError);
  return e as GatehouseError;
}

const failedNames = (checks: { name: string; ok: boolean }[]) => checks.filter((c) => !c.ok).map((c) => c.name);

/** A Safe transaction an attacker edited and re-hashed: every hash recomputes, only the shape gives it away. */
function reshaped(record: ProposalRecord, tx: SafeTxRecord, edit: Partial<SafeTxRecord>): SafeTxRecord {
  const next = { ...tx, ...edit } as SafeTxRecord;
  return { ...next, ...safeTxHashes(BigInt(record.chainId), next.safe, safeTxData(next)) };
}

describe("verify and sign: what a signer trusts, on a real Safe and timelock", function () {
  let d: Deployed;
  let id: string;
  let file: string;
  let record: ProposalRecord;

  before(async () => {
    d = await deployed();
  });
  after(async () => d.close());

  it("stage refuses a working tree with uncommitted sources or policies; --allow-dirty marks the record, and verify and sign refuse it", async () => {
    // A scratch repository stands in for the working tree: a committed contract edited, an untracked policy.
    const repo = mkdtempSync(path.join(tmpdir(), "gatehouse-dirty-"));
    try {
      const git = (...a: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...a], { cwd: repo, stdio: "ignore" });
      git("init", "-q");
      mkdirSync(path.join(repo, "contracts"));
      mkdirSync(path.join(repo, "policies"));
      writeFileSync(path.join(repo, "contracts/VaultV2.sol"), "// v2\n");
      writeFileSync(path.join(repo, "README.md"), "x\n");
      git("add", "-A");
      git("commit", "-qm", "base");
      writeFileSync(path.join(repo, "contracts/VaultV2.sol"), "// v2, edited\n");
      writeFileSync(path.join(repo, "policies/default.yaml"), "# new\n");
      writeFileSync(path.join(repo, "README.md"), "docs only\n");
      const setup: Setup = { ...d.setup, source: { repoRoot: repo, protectedBranch: TEST_PROTECTED_BRANCH } };
      const blocks = await d.ctx.ethers.provider.getBlockNumber();

      const e = await rejection(stage({ setup, deployer: d.actors.deployer }));
      expect(e.errorName).to.equal("TREE_DIRTY");
      expect(e.exitCode).to.equal(2);
      expect(e.message).to.contain("contracts/VaultV2.sol, policies/default.yaml");
      expect(e.message).not.to.contain("README.md");
      expect(await d.ctx.ethers.provider.getBlockNumber(), "nothing deployed").to.equal(blocks);

      const dirty = await stage({ setup, deployer: d.actors.deployer, allowDirty: true });
      const r = dirty.proposal!.record;
      expect(r.commit).to.equal(null);
      expect(r.dirty!.files).to.deep.equal(["contracts/VaultV2.sol", "policies/default.yaml"]);
      const v = await verify({ setup: d.setup, proposal: r.id });
      expect(v.verified).to.equal(false);
      expect(v.checks.find((c) => c.name === "commit")).to.deep.include({ ok: false });
      expect(v.checks.find((c) => c.name === "commit")!.detail).to.contain("--allow-dirty");
      // The pure rule reads git's porcelain output: renames off, untracked files count.
      expect(changedBuildInputs(" M contracts/A.sol\0?? contracts/new/B.sol\0 M src/x.ts\0 M hardhat.config.ts\0M  package-lock.json\0")).to.deep.equal([
        "contracts/A.sol",
        "contracts/new/B.sol",
        "hardhat.config.ts",
        "package-lock.json",
      ]);
      // The next stage (from the clean commit under test) writes the record the other tests use.
      unlinkSync(dirty.proposal!.file);
    } finally {
      rmSync(repo, { recursive: true, force: true });
    }
    const staged = await stage({ setup: d.setup, deployer: d.actors.deployer });
    id = staged.proposal!.record.id;
    file = staged.proposal!.file;
    expect(staged.proposal!.record.commit).to.equal(HEAD);
    await propose({ setup: d.setup, proposal: id, proposer: d.actors.owners[0] });
    record = readProposalFile(file);
  });

  it("verifies a proposal against the build of its protected commit, with the policy's targets, __self, and all three hashes", async () => {
    const r = await verify({ setup: d.setup, proposal: id });
    expect(failedNames(r.checks), renderChecks(r.checks)).to.deep.equal([]);
    expect(r.verified).to.equal(true);
    expect(r.build).to.deep.equal({ kind: "commit", commit: HEAD });
    const by = (n: string) => r.checks.find((c) => c.name === n)!;
    expect(by("commit").detail).to.contain(`'${TEST_PROTECTED_BRANCH}'`);
    expect(by("policy target of 'vault'").detail).to.contain("VaultV2 (contracts/VaultV2.sol)");
    expect(by("bytecode of 'vault' implementation").detail).to.contain(`at commit ${HEAD.slice(0, 12)}`);
    const self = by("'vault' implementation immutable __self (UUPSUpgradeable.sol)");
    expect(self).to.deep.include({ ok: true });
    expect(self.detail).to.contain(record.operations.find((o) => o.proxy === "vault")!.newImplementation);
    const tx = record.safeTransactions[0]!;
    expect(by("Safe transaction schedule (nonce 0) hashes").detail).to.equal(`safeTxHash ${tx.safeTxHash}, domain hash ${tx.domainHash}, message hash ${tx.messageHash}`);
    expect(by("Safe transaction schedule (nonce 0) shape")).to.deep.include({ ok: true });
  });

  it("refuses a commit that is a branch name, or not on the protected branch, in verify and in sign", async () => {
    // A commit object no branch contains: what an attacker's unmerged branch would hold.
    const unmerged = execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "commit-tree", `${HEAD}^{tree}`, "-p", HEAD, "-m", "unreviewed"], { cwd: PROJECT_ROOT }).toString().trim();
    try {
      for (const [commit, code, words] of [["main", "GH190", "not a full 40-digit"], [unmerged, "GH290", `not on the protected branch '${TEST_PROTECTED_BRANCH}'`]] as const) {
        writeProposal(file, { ...record, commit });
        const v = await verify({ setup: d.setup, proposal: id });
        expect(v.verified).to.equal(false);
        const c = v.checks.find((k) => k.name === "commit")!;
        expect(c.ok, c.detail).to.equal(false);
        expect(c.detail).to.contain(code).and.contain(words);
        expect(failedNames(v.checks)).to.include("bytecode of 'vault' implementation");
        const e = await rejection(sign({ setup: d.setup, safeTxHash: record.safeTransactions[0]!.safeTxHash, signer: d.actors.owners[1] }));
        expect(e.errorName).to.equal("SIGN_REFUSED");
        expect(e.message).to.contain("commit (");
      }
    } finally {
      writeProposal(file, record);
    }
  });

  it("refuses a record whose contract is not the policy's target, or whose target is a test fixture", async () => {
    const fixture = (r: ProposalRecord) => ({
      ...r,
      operations: r.operations.map((o) => (o.proxy === "vault" ? { ...o, contract: "VaultV2Selfdestruct" } : o)),
      artifacts: { ...r.artifacts, vault: { ...r.artifacts.vault!, contract: "VaultV2Selfdestruct", sourceName: "test/fixtures/contracts/VaultV2Selfdestruct.sol" } },
    });
    // The record claims another contract than the policy's target.
    const claimed = await verify({ setup: d.setup, proposal: { record: fixture(record) } });
    const target = claimed.checks.find((c) => c.name === "policy target of 'vault'")!;
    expect(target.ok).to.equal(false);
    expect(target.detail).to.contain("the policy's target is VaultV2").and.contain("not under contracts/");
    // Even a policy naming the fixture does not make it a governed build: it is not among the project's sources.
    const policy = { ...d.setup.policy, contracts: d.setup.policy.contracts.map((c) => (c.name === "vault" ? { ...c, contract: "VaultV2Selfdestruct" } : c)) };
    const both = await verify({ setup: { ...d.setup, policy }, proposal: { record: fixture(record) } });
    const bytecode = both.checks.find((c) => c.name === "bytecode of 'vault' implementation")!;
    expect(bytecode.ok).to.equal(false);
    // The build of a commit is the product build: the fixtures are not compiled into it at all.
    expect(bytecode.detail).to.contain("no contract VaultV2Selfdestruct under contracts/");
    // And sign refuses what verify fails.
    writeProposal(file, fixture(record));
    try {
      const e = await rejection(sign({ setup: d.setup, safeTxHash: record.safeTransactions[0]!.safeTxHash, signer: d.actors.owners[1] }));
      expect(e.errorName).to.equal("SIGN_REFUSED");
      expect(e.message).to.contain("policy target of 'vault'");
    } finally {
      writeProposal(file, record);
    }
  });

  it("refuses a Safe transaction that is not Gatehouse's one shape, naming the field, in verify, sign and execute", async () => {
    const tx = record.safeTransactions[0]!;
    const attacker = d.actors.outsider.address;
    const cases: [Partial<SafeTxRecord>, string][] = [
      [{ operation: 1 }, "operation is 1 (delegatecall)"],
      [{ gasPrice: "1000000000" }, "gasPrice is 1000000000"],
      [{ refundReceiver: attacker }, `refundReceiver is ${attacker}`],
      [{ safeTxGas: "1" }, "safeTxGas is 1"],
      [{ gasToken: attacker }, "gasToken is"],
      [{ value: "1" }, "value is 1"],
    ];
    for (const [edit, words] of cases) {
      const bad = reshaped(record, tx, edit);
      const tampered = { ...record, safeTransactions: [bad] };
      const shape = verifyRecord(tampered).find((c) => c.name === "Safe transaction schedule (nonce 0) shape")!;
      expect(shape.ok, words).to.equal(false);
      expect(shape.detail).to.contain(words);
      // The hashes were recomputed by the attacker: only the shape check fails.
      expect(failedNames(verifyRecord(tampered))).to.deep.equal(["Safe transaction schedule (nonce 0) shape"]);
      writeProposal(file, tampered);
      try {
        const e = await rejection(sign({ setup: d.setup, safeTxHash: bad.safeTxHash, signer: d.actors.owners[1] }));
        expect(e.errorName).to.equal("SAFE_TX_SHAPE");
        expect(e.message).to.contain(words);
        expect((await rejection(execute({ setup: d.setup, proposal: id, executor: d.actors.deployer }))).errorName).to.equal("SAFE_TX_SHAPE");
        // The Safe adapters refuse it too, whoever calls them (the last line of defence).
        expect((await rejection(approveSafeTx(d.ctx, d.setup.deployment, bad, d.actors.owners[1]))).errorName).to.equal("SAFE_TX_SHAPE");
      } finally {
        writeProposal(file, record);
      }
    }
    expect(safeTxShapeViolations({ ...safeTxData(tx), to: ZeroAddress }, record.timelock).map((v) => v.field)).to.deep.equal(["to"]);
  });

  it("signs after verifying, and a later edit of the target contract does not disturb the pending proposal's execute", async () => {
    const signed = await sign({ setup: d.setup, safeTxHash: record.safeTransactions[0]!.safeTxHash, signer: d.actors.owners[1] });
    expect(signed.approvals).to.have.length(2);
    expect(signed.checks.every((c) => c.ok)).to.equal(true);
    // Today's build of VaultV2 moved on (an edit after staging): other code, other immutable ranges.
    const real = await d.ctx.readArtifact("VaultV2");
    const edited = { ...real, deployedBytecode: real.deployedBytecode.slice(0, -8) + "deadbeef", immutableReferences: { "1": [{ start: 3, length: 32 }] } };
    const ctx = { ...d.ctx, readArtifact: async (name: string) => (name === "VaultV2" ? edited : d.ctx.readArtifact(name)) } as typeof d.ctx;
    const later: Setup = { ...d.setup, ctx };
    expect((await execute({ setup: later, proposal: id, executor: d.actors.deployer })).step).to.equal("scheduled");
    await d.ctx.connection.networkHelpers.time.increase(3600);
    const done = await execute({ setup: later, proposal: id, executor: d.actors.deployer });
    expect(done.step).to.equal("executed");
    expect(done.postChecks!.every((c) => c.ok)).to.equal(true);
    // A record from before `immutableReferences` existed still loads (the field is optional).
    const old = JSON.parse(readFileSync(file, "utf8")) as ProposalRecord;
    for (const a of Object.values(old.artifacts)) delete a.immutableReferences;
    writeFileSync(file, JSON.stringify(old));
    expect(readProposalFile(file).artifacts.vault!.immutableReferences).to.equal(undefined);
  });
});

/** A free loopback port for `hardhat node` (closed again before the node binds it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("verify over HTTP against `hardhat node`, building the commit while the RPC connection waits", function () {
  let node: ChildProcess;
  let url: string;
  let checkout: string;
  let root: string;

  before(async () => {
    const port = await freePort();
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HARDHAT_")));
    node = spawn(process.execPath, [path.join(PROJECT_ROOT, "node_modules/hardhat/dist/src/cli.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)], { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    url = `http://127.0.0.1:${port}`;
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`hardhat node did not start: ${out}`)), 60_000);
      node.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
        if (out.includes(url)) {
          clearTimeout(timer);
          resolve();
        }
      });
      node.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      node.on("exit", (code) => reject(new Error(`hardhat node exited with ${code}: ${out}`)));
    });
    // A second checkout of the commit under test, so that its build is fresh here (not cached by another test).
    checkout = mkdtempSync(path.join(tmpdir(), "gatehouse-verify-http-"));
    execFileSync("git", ["worktree", "add", "--detach", "-q", checkout, HEAD], { cwd: PROJECT_ROOT, stdio: "ignore" });
    symlinkSync(path.join(PROJECT_ROOT, "node_modules"), path.join(checkout, "node_modules"), "dir");
    root = workspace();
    copyFileSync(path.join(PROJECT_ROOT, "policies/localhost.yaml"), path.join(root, "policies/localhost.yaml"));
  });
  after(() => {
    node?.kill();
    execFileSync("git", ["worktree", "remove", "--force", checkout], { cwd: PROJECT_ROOT, stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  });

  it("passes on the first try: the asynchronous build keeps the keep-alive socket usable; the signer packet forks the node over HTTP", async function () {
    this.timeout(300_000);
    // The topology is deployed by the CLI in its own process (protocol-kit memoizes Safe contracts by
    // chain and addresses across connections, so an earlier in-process chain of this test run could answer).
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(HARDHAT_|GATEHOUSE_)/.test(k)));
    execFileSync(process.execPath, ["scripts/gatehouse.ts", "deploy", "--network", "localhost", "--root", root], { cwd: PROJECT_ROOT, env: { ...env, GATEHOUSE_RPC_URL: url }, stdio: "ignore" });
    const ctx = await connect("localhost", { url });
    try {
      const policy = loadPolicy(root, "localhost");
      const deployer = await actor(ctx, "account:0", "deployer");
      const setup: Setup = { ...loadSetup(ctx, root, policy), source: { ...TEST_SOURCE, repoRoot: checkout } };
      const built = path.join(checkout, ".gatehouse/builds", HEAD, "complete");
      expect(existsSync(built)).to.equal(false);
      // stage builds the commit it deploys (the same hermetic build verify compares with), then keeps
      // talking to the node. The build takes seconds and the node drops a keep-alive socket idle for 5 s:
      // built synchronously, the next RPC call failed with "Failed to make POST request".
      const staged = await stage({ setup, deployer });
      expect(existsSync(built), "the commit was built during this stage").to.equal(true);
      // Proposed, it is simulated on an EDR fork of the node over HTTP: the signer packet pins exactly the
      // ERC-1967 implementation slot change of each proxy, and the probes pass.
      const record = staged.proposal!.record;
      const proposed = await propose({ setup, proposal: record.id, proposer: await actor(ctx, "account:1", "owner") });
      const packet = proposed.packet!.packet;
      expect(packet.effects.changes.map((c) => `${c.account.toLowerCase()} ${c.variable}`).sort()).to.deep.equal(record.operations.map((o) => `${o.proxyAddress.toLowerCase()} erc1967.implementation`).sort());
      expect(packet.effects.changes.map((c) => BigInt(c.after))).to.have.members(record.operations.map((o) => BigInt(o.newImplementation)));
      expect(packet.findings).to.deep.equal([]);
      expect(packet.probes.length > 0 && packet.probes.every((p) => p.ok)).to.equal(true);
      const r = await verify({ setup, proposal: record.id });
      expect(failedNames(r.checks), renderChecks(r.checks)).to.deep.equal([]);
      expect(r.verified).to.equal(true);
    } finally {
      await ctx.close();
    }
  });
});
