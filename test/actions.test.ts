import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { actionsIO, annotationLine, parseFlags } from "../src/actions/io.ts";
import { CHECK_COMMENT_MARKER, MAX_COMMENT_CHARS, checkCommentBody, findingAnnotations, type CheckArtifact } from "../src/actions/check-report.ts";
import { octokitFor, pullRequestNumber, runContext, upsertComment } from "../src/actions/github.ts";
import { planExecution } from "../src/actions/execute-plan.ts";
import { safeLink } from "../src/actions/proposal-summary.ts";
import { configuredNetworks } from "../src/actions/run.ts";
import type { ProposalStatus } from "../src/pipeline/status.ts";
import type { Finding } from "../src/check/audit.ts";
import { parseKeyValueFile, parseWorkflowCommands } from "./harness/runner.ts";
import { startGitHubStandIn, type GitHubStandIn } from "./helpers/github-rest-standin.ts";
import { PROJECT_ROOT } from "./helpers/fixture.ts";
import { parse as parseYaml } from "yaml";
import { Policy } from "../src/policy/schema.ts";
import { policyRelaxations } from "../src/policy/relaxations.ts";
import { auditFailed, auditMarkdown, changedFiles, effectivePolicy, recordFindings, ciConfigFindings, type AuditReport } from "../src/actions/audit.ts";
import { refVerdict } from "../src/actions/config.ts";

/**
 * The @actions/core glue (src/actions/): the terminal fallback, what it writes inside Actions (read
 * back with the harness's own parsers, in a child process so the workflow commands do not land in this
 * test's output), findings as annotations, the PR comment and its update in place over REST.
 */

const finding = (over: Partial<Finding> = {}): Finding => ({
  proxy: "vault",
  rule: "storage-layout",
  file: "test/fixtures/contracts/VaultV2Inserted.sol",
  line: 9,
  message: "inserted variable depositCap moves balanceOf",
  remedy: "append new variables after the existing ones",
  ...over,
});

/** Every scratch directory of this file, removed at the end. */
const scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-actions-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function runNode(code: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--input-type=module", "-e", code], { cwd: PROJECT_ROOT, env }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("actions glue: ActionsIO", () => {
  it("outside Actions: flags win over INPUT_ variables, and everything goes to the terminal", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = actionsIO({ env: { INPUT_NETWORK: "sepolia", "INPUT_REPORT-DIR": " r " }, argv: ["--network", "localhost", "--via=onchain"], terminal: { out: (s) => out.push(s), err: (s) => err.push(s) } });
    expect(io.inActions).to.equal(false);
    expect(io.input("network")).to.equal("localhost");
    expect(io.input("via")).to.equal("onchain");
    expect(io.input("report-dir")).to.equal("r");
    expect(io.input("missing", { fallback: "x" })).to.equal("x");
    expect(() => io.input("missing", { required: true })).to.throw("--missing is required");
    io.annotate({ level: "error", title: "storage-layout", message: "moved", file: "contracts/A.sol", line: 7 });
    io.output("ok", false);
    await io.summary("# Report");
    const previous = process.exitCode;
    io.fail("boom", 2);
    expect(process.exitCode).to.equal(2);
    process.exitCode = previous;
    expect(err.join("")).to.equal("contracts/A.sol:7: error: [storage-layout] moved\noutput ok=false\nerror: boom\n");
    expect(out.join("")).to.equal("# Report\n");
  });

  it("parses --flag value and --flag=value, and prints annotations as file:line", () => {
    expect([...parseFlags(["x", "--a", "1", "--b=2", "--c"]).entries()]).to.deep.equal([
      ["a", "1"],
      ["b", "2"],
      ["c", "true"],
    ]);
    expect(annotationLine({ level: "warning", message: "m" })).to.equal("warning: m");
  });

  it("inside Actions: outputs in GITHUB_OUTPUT, Markdown in the step summary, annotations with file and line, masks, setFailed", async () => {
    const dir = mkdtempSync(path.join(scratch, "io-"));
    const files = { GITHUB_OUTPUT: path.join(dir, "out"), GITHUB_STEP_SUMMARY: path.join(dir, "summary") };
    for (const f of Object.values(files)) writeFileSync(f, "");
    const code = `
      import { actionsIO } from ${JSON.stringify(path.join(PROJECT_ROOT, "src/actions/io.ts"))};
      import { maskSecrets } from ${JSON.stringify(path.join(PROJECT_ROOT, "src/actions/run.ts"))};
      const io = actionsIO();
      maskSecrets(io);
      io.output("safe-tx-hash", "0xabc");
      io.output("report", "line 1\\nline 2");
      io.annotate({ level: "error", title: "storage-layout in 'vault'", message: "moved, badly\\nRemedy: append", file: "contracts/V.sol", line: 12 });
      await io.summary("## Gatehouse\\n\\n| a | b |");
      io.log("network " + io.input("network", { required: true }));
      io.fail("gatehouse check: 1 finding(s)");
    `;
    const key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const r = await runNode(code, { ...process.env, ...files, GITHUB_ACTIONS: "true", INPUT_NETWORK: "localhost", GATEHOUSE_SIGNER_KEY: key, GATEHOUSE_RPC_URL: "" });
    expect(r.code, r.stderr).to.equal(1);
    expect(parseKeyValueFile(readFileSync(files.GITHUB_OUTPUT, "utf8"))).to.deep.equal({ "safe-tx-hash": "0xabc", report: "line 1\nline 2" });
    expect(readFileSync(files.GITHUB_STEP_SUMMARY, "utf8")).to.equal("## Gatehouse\n\n| a | b |\n");
    const commands = parseWorkflowCommands(r.stdout);
    expect(commands.masks).to.deep.equal([key]);
    expect(commands.annotations).to.deep.equal([
      { level: "error", message: "moved, badly\nRemedy: append", file: "contracts/V.sol", line: 12, title: "storage-layout in 'vault'" },
      { level: "error", message: "gatehouse check: 1 finding(s)", file: undefined, line: undefined, title: undefined },
    ]);
    expect(r.stdout).to.include("network localhost");
  });
});

describe("actions glue: check findings and the PR comment body (pure)", () => {
  it("each finding is an error annotation on its Solidity file and line, with the remedy", () => {
    expect(findingAnnotations([finding()], "sepolia")).to.deep.equal([
      {
        level: "error",
        title: "gatehouse check (sepolia): storage-layout in 'vault'",
        message: "inserted variable depositCap moves balanceOf\nRemedy: append new variables after the existing ones",
        file: "test/fixtures/contracts/VaultV2Inserted.sol",
        line: 9,
      },
    ]);
  });

  it("one body: the marker, a verdict per network (missing ones named), failing reports open", () => {
    const artifacts: CheckArtifact[] = [
      { network: "sepolia", ok: true, findingCount: 0, markdown: "# Gatehouse check: sepolia\n\nPASS" },
      { network: "mainnet", ok: false, findingCount: 2, markdown: "# Gatehouse check: mainnet\n\n| a | b |" },
      { network: "holesky", ok: false, findingCount: 0, error: "GH107: the timelock is not deployed" },
    ];
    const body = checkCommentBody({ expected: ["sepolia", "mainnet", "holesky", "base"], artifacts, commit: "abc123", runUrl: "https://github.com/o/r/actions/runs/1" });
    expect(body.startsWith(CHECK_COMMENT_MARKER + "\n## Gatehouse upgrade check: FAIL")).to.equal(true);
    expect(body).to.include("| `base` | no report (the check job stopped before writing one) |");
    expect(body).to.include("| `holesky` | could not run: GH107: the timelock is not deployed |");
    expect(body).to.include("| `mainnet` | FAIL: 2 findings |");
    expect(body).to.include("| `sepolia` | PASS |");
    expect(body).to.include("<details open><summary>Report for <code>mainnet</code></summary>");
    expect(body).to.include("<details><summary>Report for <code>sepolia</code></summary>");
    expect(body).to.include("Commit `abc123` · [workflow run](https://github.com/o/r/actions/runs/1)");
    const pass = checkCommentBody({ expected: ["sepolia"], artifacts: [artifacts[0]!] });
    expect(pass).to.include("## Gatehouse upgrade check: PASS");
  });

  it("a body over GitHub's limit keeps the verdicts and points at the job summaries", () => {
    const huge: CheckArtifact = { network: "mainnet", ok: false, findingCount: 1, markdown: "x".repeat(MAX_COMMENT_CHARS) };
    const body = checkCommentBody({ expected: ["mainnet"], artifacts: [huge], runUrl: "https://github.com/o/r/actions/runs/9" });
    expect(body.length).to.be.below(MAX_COMMENT_CHARS);
    expect(body).to.include("| `mainnet` | FAIL: 1 finding |");
    expect(body).to.include("read them in the job summaries of the [workflow run](https://github.com/o/r/actions/runs/9)");
  });
});

describe("actions glue: the PR comment over REST (local stand-in for api.github.com)", () => {
  let gh: GitHubStandIn;
  before(async () => {
    gh = await startGitHubStandIn();
  });
  after(async () => {
    await gh.close();
  });

  it("creates the comment once, then edits it in place; an identical body is left alone", async () => {
    const octokit = octokitFor(gh.token, gh.url);
    const args = { octokit, owner: "acme", repo: "vaults", issueNumber: 7, marker: CHECK_COMMENT_MARKER };
    gh.resetLog();
    const first = await upsertComment({ ...args, body: `${CHECK_COMMENT_MARKER}\nfirst` });
    expect(first.action).to.equal("created");
    expect(gh.calls()).to.deep.equal(["GET /repos/acme/vaults/issues/7/comments", "POST /repos/acme/vaults/issues/7/comments"]);
    expect(gh.requests[1]!.body).to.deep.equal({ body: `${CHECK_COMMENT_MARKER}\nfirst` });

    gh.resetLog();
    const second = await upsertComment({ ...args, body: `${CHECK_COMMENT_MARKER}\nsecond` });
    expect(second).to.deep.include({ action: "updated", id: first.id });
    expect(gh.calls()).to.deep.equal(["GET /repos/acme/vaults/issues/7/comments", `PATCH /repos/acme/vaults/issues/comments/${first.id}`]);

    gh.resetLog();
    const third = await upsertComment({ ...args, body: `${CHECK_COMMENT_MARKER}\nsecond` });
    expect(third.action).to.equal("unchanged");
    expect(gh.calls()).to.deep.equal(["GET /repos/acme/vaults/issues/7/comments"]);
    expect(gh.comments.filter((c) => c.issue_number === 7).map((c) => c.body)).to.deep.equal([`${CHECK_COMMENT_MARKER}\nsecond`]);
  });

  it("finds its comment past the first page of comments", async () => {
    const octokit = octokitFor(gh.token, gh.url);
    for (let i = 0; i < 3; i++) await octokit.rest.issues.createComment({ owner: "acme", repo: "vaults", issue_number: 8, body: `chatter ${i}` });
    const mine = await upsertComment({ octokit, owner: "acme", repo: "vaults", issueNumber: 8, marker: CHECK_COMMENT_MARKER, body: `${CHECK_COMMENT_MARKER}\nv1` });
    for (let i = 0; i < 120; i++) await octokit.rest.issues.createComment({ owner: "acme", repo: "vaults", issue_number: 8, body: `more chatter ${i}` });
    gh.resetLog();
    const again = await upsertComment({ octokit, owner: "acme", repo: "vaults", issueNumber: 8, marker: CHECK_COMMENT_MARKER, body: `${CHECK_COMMENT_MARKER}\nv2` });
    expect(again).to.deep.include({ action: "updated", id: mine.id });
    expect(gh.calls()).to.deep.equal([
      "GET /repos/acme/vaults/issues/8/comments",
      "GET /repos/acme/vaults/issues/8/comments",
      `PATCH /repos/acme/vaults/issues/comments/${mine.id}`,
    ]);
    expect(gh.requests[1]!.query).to.deep.include({ page: "2", per_page: "100" });
  });

  it("refuses a body without its marker (the next run could not find it)", async () => {
    const octokit = octokitFor(gh.token, gh.url);
    let error: unknown;
    try {
      await upsertComment({ octokit, owner: "acme", repo: "vaults", issueNumber: 9, marker: CHECK_COMMENT_MARKER, body: "no marker" });
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.include("must carry its marker");
  });

  it("reads the repository, the PR number and the API URL from the GITHUB_* variables", () => {
    const dir = mkdtempSync(path.join(scratch, "ctx-"));
    const eventPath = path.join(dir, "event.json");
    writeFileSync(eventPath, JSON.stringify({ pull_request: { number: 42 } }));
    const ctx = runContext({ GITHUB_REPOSITORY: "acme/vaults", GITHUB_EVENT_PATH: eventPath, GITHUB_API_URL: "http://127.0.0.1:9/", GITHUB_RUN_ID: "77", GITHUB_EVENT_NAME: "pull_request" });
    expect(ctx).to.deep.include({ owner: "acme", repo: "vaults", apiUrl: "http://127.0.0.1:9", runUrl: "https://github.com/acme/vaults/actions/runs/77" });
    expect(pullRequestNumber(ctx)).to.equal(42);
    expect(pullRequestNumber(runContext({}))).to.equal(undefined);
  });
});

describe("actions glue: execution plan, Safe link, configured networks (pure)", () => {
  const base: ProposalStatus = { id: "aaaaaaaaaaaa", operationId: "0x" + "11".repeat(32), proxies: [], recordState: "proposed", operation: "Unset", next: "propose" };

  it("executes only a fully approved Safe transaction or a Ready operation", () => {
    expect(planExecution({ ...base })).to.deep.equal({ action: "skip", reason: "not proposed yet" });
    expect(planExecution({ ...base, next: "collect-approvals", safeTxHash: "0x1", approvals: 1, threshold: 2, safeTxExecuted: false })).to.deep.equal({ action: "skip", reason: "waiting for approvals: 1 of 2" });
    expect(planExecution({ ...base, next: "execute-safe-tx", safeTxHash: "0x1", approvals: 2, threshold: 2, safeTxExecuted: false }).action).to.equal("execute");
    expect(planExecution({ ...base, next: "wait", operation: "Waiting", secondsLeft: 3600, eta: "2030-01-01T00:00:00.000Z" })).to.deep.equal({ action: "skip", reason: "waiting: 1h left (ETA 2030-01-01T00:00:00.000Z)" });
    expect(planExecution({ ...base, next: "execute-operation", operation: "Ready" }).action).to.equal("execute");
    expect(planExecution({ ...base, next: "cancelled", operation: "Cancelled" })).to.deep.equal({ action: "skip", reason: "cancelled by the guardian" });
    expect(planExecution({ ...base, next: "post-checks", operation: "Done", recordState: "executed" })).to.deep.equal({ action: "skip", reason: "already executed" });
    expect(planExecution({ ...base, next: "post-checks", operation: "Done", recordState: "scheduled" }).action).to.equal("execute");
  });

  it("links Safe{Wallet} on chains it serves, else the Transaction Service", () => {
    const safe = "0x0000000000000000000000000000000000000001";
    const hash = "0x" + "ab".repeat(32);
    expect(safeLink({ chainId: 11155111, safe, safeTxHash: hash })).to.equal(`https://app.safe.global/transactions/tx?safe=sep:${safe}&id=multisig_${safe}_${hash}`);
    expect(safeLink({ chainId: 31337n, safe, safeTxHash: hash, serviceUrl: "http://127.0.0.1:5555/api/" })).to.equal(`http://127.0.0.1:5555/api/v1/multisig-transactions/${hash}/`);
    expect(safeLink({ chainId: 31337n, safe, safeTxHash: hash })).to.equal(undefined);
  });

  it("configured networks: a policy with a committed deployment record, never `default`; unknown names are refused", () => {
    const root = mkdtempSync(path.join(scratch, "nets-"));
    mkdirSync(path.join(root, "policies"));
    mkdirSync(path.join(root, "deployments"));
    for (const n of ["default", "sepolia", "mainnet", "holesky"]) writeFileSync(path.join(root, "policies", `${n}.yaml`), "");
    for (const n of ["default", "sepolia", "mainnet"]) writeFileSync(path.join(root, "deployments", `${n}.json`), "{}");
    expect(configuredNetworks(root)).to.deep.equal(["mainnet", "sepolia"]);
    expect(configuredNetworks(root, "sepolia")).to.deep.equal(["sepolia"]);
    expect(configuredNetworks(root, '["mainnet"]')).to.deep.equal(["mainnet"]);
    expect(() => configuredNetworks(root, "holesky")).to.throw("network 'holesky' is not configured (expected one of: mainnet, sepolia;");
  });
});

describe("least-trust CI: policy relaxations, records in PRs, the audited policy, the protected ref (pure)", () => {
  const base = Policy.parse(parseYaml(readFileSync(path.join(PROJECT_ROOT, "policies/localhost.yaml"), "utf8")));
  const edit = (fn: (p: Policy) => void): Policy => {
    const p = structuredClone(base);
    fn(p);
    return Policy.parse(p);
  };

  // Fields the red team found unnamed (each lets a merged PR widen what is trusted), and the catch-all
  // that keeps a field added later from changing silently.
  it("names a changed protectedBranch, new allowed library calls and fallback handlers, and any other difference", () => {
    const paths = (pr: Policy) => policyRelaxations(base, pr).map((r) => `${r.kind} ${r.path}`);
    expect(paths(edit((p) => (p.protectedBranch = "redteam")))).to.deep.equal(["protected-branch-changed protectedBranch"]);
    const libraryCall = { function: "@openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall", reason: "trust me" };
    expect(paths(edit((p) => (p.rules.allowedLibraryCalls = [libraryCall])))).to.deep.equal(["library-call-allowed rules.allowedLibraryCalls"]);
    expect(paths(edit((p) => (p.governance.safe.fallbackHandlers = ["0x000000000000000000000000000000000000dEaD"])))).to.deep.equal(["fallback-handler-allowed governance.safe.fallbackHandlers"]);
    expect(paths(edit((p) => (p.contracts[0]!.upgradeInitializers = ["upgradeToAndCall"])))).to.deep.equal(["contract-changed contracts.vault.upgradeInitializers"]);
    expect(paths(edit((p) => (p.compiler.evmVersion = "paris")))).to.deep.equal(["compiler-changed compiler"]);
    expect(paths(edit((p) => (p.contracts[0]!.initializerArgs = ["0x000000000000000000000000000000000000dEaD"])))).to.deep.equal(["policy-changed contracts.vault.initializerArgs"]);
    // A tightening of a field a rule judges is not a finding, and the target contract is the upgrade itself.
    expect(paths(edit((p) => ((p.rules.minDelaySeconds += 60), (p.contracts[0]!.contract = "VaultV2Inserted"))))).to.deep.equal([]);
  });

  it("names every relaxation of the base policy, and nothing for an unchanged or tightened one", () => {
    expect(policyRelaxations(base, base)).to.deep.equal([]);
    expect(policyRelaxations(base, edit((p) => ((p.rules.minDelaySeconds = 7200), (p.rules.forbidden = ["selfdestruct", "delegatecall"]))))).to.deep.equal([]);
    const relaxed = edit((p) => {
      p.rules.minDelaySeconds = 60;
      p.rules.minThreshold = 1;
      p.governance.safe.threshold = 1;
      p.governance.delaySeconds = 60;
      p.rules.unsafeAllow = ["delegatecall"];
      p.rules.forbidden = ["selfdestruct"];
      p.rules.maxCodeSize = 49152;
      p.governance.guardian = ["0x0000000000000000000000000000000000000bad"];
      p.governance.timelock = "0x0000000000000000000000000000000000000bad";
      p.compiler.version = "0.8.20";
      p.contracts.push({ name: "treasury", kind: "uups", contract: "VaultV2", initializerArgs: [], upgradeInitializers: [], probes: [], allowWrites: [] });
      p.contracts[1]!.proxy = "0x0000000000000000000000000000000000000bad";
      p.contracts[0]!.contract = "VaultV2Inserted"; // the upgrade itself: not a relaxation
    });
    expect(policyRelaxations(base, relaxed).map((r) => `${r.kind} ${r.path}`)).to.deep.equal([
      "delay-lowered governance.delaySeconds",
      "threshold-lowered governance.safe.threshold",
      "governance-changed governance.timelock",
      "governance-changed governance.guardian",
      "min-delay-lowered rules.minDelaySeconds",
      "min-threshold-lowered rules.minThreshold",
      "max-code-size-raised rules.maxCodeSize",
      "unsafe-allow-added rules.unsafeAllow",
      "forbidden-removed rules.forbidden",
      "compiler-changed compiler",
      "contract-changed contracts.registry.proxy",
      "contract-added contracts.treasury",
    ]);
    expect(policyRelaxations(base, relaxed)[4]!.message).to.equal("rules.minDelaySeconds lowered from 3600 to 60");
    expect(policyRelaxations(base, edit((p) => (p.governance.executor = "safe")))).to.deep.equal([{ kind: "governance-changed", path: "governance.executor", message: 'governance.executor changed from "open" to "safe"' }]);
    // simulate's rules: a newly allowed write and a dropped probe are relaxations; a new probe is not.
    const probed = edit((p) => (p.contracts[0]!.probes = [{ call: "version()", returns: "2.0.0" }]));
    expect(policyRelaxations(base, probed)).to.deep.equal([]);
    expect(policyRelaxations(probed, edit((p) => (p.contracts[0]!.allowWrites = ["depositCap"]))).map((r) => `${r.kind} ${r.path}`)).to.deep.equal([
      "contract-changed contracts.vault.allowWrites",
      "contract-changed contracts.vault.probes",
    ]);
    expect(policyRelaxations(undefined, base).map((r) => r.kind)).to.deep.equal(["policy-added"]);
    expect(policyRelaxations(base, undefined).map((r) => r.kind)).to.deep.equal(["policy-removed"]);
  });

  it("the upgrade check runs the base policy with only each proxy's target taken from the PR", () => {
    const pr = edit((p) => ((p.rules.minDelaySeconds = 1), (p.contracts[0]!.contract = "VaultV2Inserted"), p.contracts.push({ name: "extra", kind: "uups", contract: "VaultV1", initializerArgs: [], upgradeInitializers: [], probes: [], allowWrites: [] })));
    const e = effectivePolicy(base, pr);
    expect(e.rules).to.deep.equal(base.rules);
    expect(e.contracts.map((c) => `${c.name}:${c.contract}`)).to.deep.equal(["vault:VaultV2Inserted", "registry:RegistryV2"]);
    expect(effectivePolicy(base, undefined)).to.equal(base);
  });

  it("records in a PR are findings unless the bot's own PR changes nothing but records", () => {
    const files = (o: Record<string, string>) => new Map(Object.entries(o));
    expect(changedFiles(files({ a: "1", b: "2", c: "3" }), files({ a: "1", b: "9", d: "4" }))).to.deep.equal(["b", "c", "d"]);
    const bot = "github-actions[bot]";
    expect(recordFindings(["proposals/sepolia/x.json"], bot, bot)).to.deep.equal({ findings: [], botRecords: `1 record file(s) changed by ${bot}, and nothing else` });
    const human = recordFindings(["deployments/sepolia.json", "contracts/A.sol"], "mallory", bot);
    expect(human.findings.map((f) => `${f.kind} ${f.file}`)).to.deep.equal(["records-changed deployments/sepolia.json"]);
    expect(human.findings[0]!.message).to.include("the PR's author is mallory, not the bot");
    expect(recordFindings(["proposals/sepolia/x.json", "src/cli/main.ts"], bot, bot).findings[0]!.message).to.include(`the PR by ${bot} also changes src/cli/main.ts`);
    expect(recordFindings(["scripts/x.ts"], "mallory", bot)).to.deep.equal({ findings: [] });
    // The workflows' own trust configuration (the bot's name, the protected branch) is a finding too.
    expect(ciConfigFindings(["scripts/x.ts", ".github/gatehouse.json"]).map((f) => `${f.kind} ${f.file}`)).to.deep.equal(["ci-config-changed .github/gatehouse.json"]);
    expect(ciConfigFindings(["scripts/x.ts"])).to.deep.equal([]);
  });

  it("the audit's verdict: a finding, a failed check or a network without a report fails; no network is 'nothing to check', not a pass by silence", () => {
    const report: AuditReport = { version: 1, pr: 7, headSha: "abc", baseSha: "def", networks: [], findings: [], checks: [] };
    expect(auditFailed(report)).to.equal(false);
    expect(auditMarkdown(report)).to.include("## Gatehouse PR audit: PASS").and.include("nothing to check");
    expect(auditFailed({ ...report, networks: ["sepolia"] })).to.equal(true);
    expect(auditMarkdown({ ...report, networks: ["sepolia"] })).to.include("| `sepolia` | no report");
    const finding = { kind: "min-delay-lowered", file: "policies/sepolia.yaml", path: "rules.minDelaySeconds", message: "rules.minDelaySeconds lowered from 3600 to 60" };
    expect(auditMarkdown({ ...report, findings: [finding] })).to.include("## Gatehouse PR audit: FAIL").and.include("| `min-delay-lowered` | `policies/sepolia.yaml` |");
    // The comment never says PASS for a run that did not succeed.
    expect(auditMarkdown(report, { conclusion: "cancelled" })).to.include(": FAIL (the run concluded cancelled)");
  });

  it("only refs/heads/<protected branch> may stage, propose, sign or execute", () => {
    expect(refVerdict("refs/heads/main", "main")).to.deep.equal({ ok: true });
    expect(refVerdict("refs/heads/feature", "main")).to.deep.equal({ ok: false, ref: "refs/heads/feature" });
    expect(refVerdict("refs/pull/1/merge", "main").ok).to.equal(false);
    expect(refVerdict("refs/tags/main", "main").ok).to.equal(false);
    expect(refVerdict(undefined, "main")).to.deep.equal({ ok: false, ref: "(no GITHUB_REF)" });
  });
});

describe("least-trust CI: the scripts that hold the key refuse a run off the protected branch", () => {
  for (const script of ["stage-propose.ts", "execute.ts"]) {
    it(`${script} on refs/heads/feature fails loudly (GH260) before touching any input or chain`, async () => {
      const env = { PATH: process.env.PATH, HOME: process.env.HOME, GITHUB_ACTIONS: "true", GITHUB_REF: "refs/heads/feature", GATEHOUSE_SIGNER_KEY: "0x" + "11".repeat(32) };
      const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [`scripts/actions/${script}`], { cwd: PROJECT_ROOT, env }, (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout })),
      );
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^::error::GH260: (stage and propose|execute) refused on 'refs\/heads\/feature': only the protected branch 'main' may/m);
      // The key only ever appears in the ::add-mask:: command, which the runner consumes.
      expect(r.stdout.split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n")).to.not.include("11".repeat(32));
    });
  }
});
