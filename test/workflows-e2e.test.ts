import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { CHECK_COMMENT_MARKER } from "../src/actions/check-report.ts";
import { startTxService, type TxService } from "../src/service/server.ts";
import { runWorkflow, type RunOptions, type WorkflowResult } from "./harness/runner.ts";
import { PROJECT_ROOT } from "./helpers/fixture.ts";
import { startGitHubStandIn, type GitHubStandIn } from "./helpers/github-rest-standin.ts";
import { createWorkflowRepo, type WorkflowRepo } from "./helpers/workflow-repo.ts";

/**
 * The workflows of .github/workflows/, run for real by the harness (test/harness/runner.ts) against a
 * `hardhat node` on loopback, the project's tx-service, and a local stand-in for api.github.com, in a
 * scratch repository (bare origin, a developer clone, the runner's checkout). The story of one upgrade:
 *   1. a PR whose policy points the vault at a storage-breaking V2 fails, with the annotation on the
 *      Solidity line; the fix pushed to the same PR passes; one PR comment, edited in place;
 *   2. the merge runs stage-and-propose: the testnet job stages, proposes to the tx-service and commits
 *      the record; the mainnet job waits (the testnet does not run the new code yet);
 *   3. a second owner signs; the execute workflow executes the Safe transaction (the operation is
 *      scheduled); the watch workflow posts the review issue; before the ETA execute does nothing;
 *   4. after the delay, the execute workflow upgrades both proxies, runs the post-upgrade checks and,
 *      the testnet being done, dispatches stage-and-propose for the mainnet; the watcher, restoring its
 *      checkpoint from the cache, closes the issue as executed;
 *   5. that dispatched run: the testnet runs the new code, so the mainnet job runs, in its protected
 *      environment.
 * Around it, the least-trust rules: the PR check runs the base branch's audit (a PR that relaxes the
 * policy fails with the relaxation named; a PR touching only scripts/ still gets the required check);
 * the PR comment comes from a workflow_run that checks out only the default branch; a dispatch on an
 * unmerged branch refuses to stage, propose or execute; the signing key and the RPC secret exist only
 * in the `localhost` environment (deployments from main only) and reach no other job.
 * The `it`s are the steps of that story and run in order, each on the state the previous one left.
 *
 * Allow-listed `run:` steps (recorded as skipped with the reason, never run): `npm ci` (the scratch
 * repository's node_modules is a symlink to the project's installed dependencies, which this test
 * process runs on) and `npm test` (this suite is what is running; running it inside itself would
 * recurse). Everything else in the workflows runs: compile, check, stage, propose, commit and push,
 * watch, execute. Single network here: the rollout's testnet and mainnet are both `localhost`
 * (.github/gatehouse.json of the scratch repository), the only HTTP network in hardhat.config.ts.
 */

const SKIP_RUNS = [
  { script: "npm ci", reason: "node_modules is the project's own installed dependencies (symlinked); this test process runs on them" },
  { script: "npm test", reason: "the test suite is what runs this test; running it again inside would recurse" },
];
const OWNER_1_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"; // Hardhat account 1, a Safe owner
const REPOSITORY = "acme/vaults";
const WORKFLOWS = path.join(PROJECT_ROOT, ".github/workflows");

/** The process env for child processes: this Node 24 first on PATH, nothing of a surrounding CI or the developer's Gatehouse settings. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(GITHUB_|RUNNER_|INPUT_|ACTIONS_|GATEHOUSE_)|^CI$/.test(k)) env[k] = v;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`;
  return env;
}

function lineOf(file: string, needle: string): number {
  return readFileSync(path.join(PROJECT_ROOT, file), "utf8").split("\n").findIndex((l) => l.includes(needle)) + 1;
}

describe("workflows end to end (harness, hardhat node, tx-service, GitHub stand-in)", function () {
  // Several steps build the scratch repository's commit (tens of seconds alone, minutes on a busy machine).
  this.timeout(600_000);
  let node: Awaited<ReturnType<typeof hre.network.createServer>>;
  let rpcUrl: string;
  let service: TxService;
  let gh: GitHubStandIn;
  let repo: WorkflowRepo;
  let store: string;
  const env = cleanEnv();

  const gatehouse = (cwd: string, ...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ["scripts/gatehouse.ts", ...args], { cwd, env: { ...env, GATEHOUSE_RPC_URL: rpcUrl }, timeout: 300_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr: error?.killed ? `${stderr}\n(killed after 300 s: ${error.signal})` : stderr }),
      );
    });

  const rpc = async (method: string, params: unknown[] = []) => {
    const res = await fetch(rpcUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(`${method}: ${body.error.message}`);
    return body.result;
  };

  /**
   * One workflow run, set up as the repository's settings say: no repository secret; the network's
   * secrets in its environment `localhost`, which only main may deploy to; each job's token minted by
   * the stand-in with the job's permissions; actions/checkout performed on the scratch repository.
   */
  const run = (workflow: string, event: string, o: { sha: string; branch?: string; payload?: Record<string, unknown>; inputs?: RunOptions["inputs"]; ref?: string; headRef?: string }) =>
    runWorkflow({
      workflow: path.join(WORKFLOWS, workflow),
      event,
      payload: o.payload,
      inputs: o.inputs,
      workspace: repo.runner,
      store,
      baseEnv: env,
      environments: { localhost: { secrets: { RPC_URL_LOCALHOST: rpcUrl, GATEHOUSE_SIGNER_KEY: OWNER_1_KEY }, branches: ["main"] } },
      issueToken: (permissions) => gh.issueToken(permissions),
      checkout: ({ path: dir, ref }) => {
        if (dir === ".") {
          repo.checkout(ref, o.branch);
          return { sha: repo.git(repo.runner, "rev-parse", "HEAD") };
        }
        return { sha: repo.checkoutAt(dir, ref) };
      },
      github: { repository: REPOSITORY, sha: o.sha, ref: o.ref ?? `refs/heads/${o.branch ?? "main"}`, headRef: o.headRef, baseRef: o.headRef ? "main" : undefined, apiUrl: gh.url },
      skipRuns: SKIP_RUNS,
      // Stage and propose builds the commit and simulates the batch on a fork of the node (the signer packet).
      stepTimeoutMs: 240_000,
      // GATEHOUSE_HARNESS_LOG=1 prints each job and step as it runs.
      log: process.env.GATEHOUSE_HARNESS_LOG ? (line) => process.stderr.write(`    [harness] ${line}\n`) : undefined,
    });

  const stepOf = (r: WorkflowResult, job: string, name: string, matrix?: Record<string, string>) => {
    const step = r.job(job, matrix).steps.find((s) => s.name === name);
    if (!step) throw new Error(`no step '${name}' in job ${job}`);
    return step;
  };
  const explain = (r: WorkflowResult) =>
    r.jobs
      .flatMap((j) => [...(j.refused ? [`${j.id}: refused: ${j.refused}`] : []), ...j.steps.filter((s) => s.conclusion === "failure").map((s) => `${j.id} / ${s.name}: exit ${s.exitCode}\n${s.stdout.slice(-3000)}\n${s.stderr.slice(-3000)}`)])
      .join("\n---\n");
  /** Every run's secrets stay in the environment jobs: which jobs had which secret in a step's env. */
  const secretHolders = (r: WorkflowResult) => [...new Set(r.jobs.flatMap((j) => j.steps.flatMap((s) => s.secretsInEnv.filter((n) => n !== "GITHUB_TOKEN").map((n) => `${j.id}@${j.environment?.name ?? "-"}: ${n}`))))].sort();

  /** A pull request's checks, then the comment workflow GitHub starts when they complete. */
  const pullRequest = async (number: number, branch: string, sha: string, action = "opened", author = "dev-alice") => {
    const base = repo.head("main");
    gh.pulls.set(number, { number, head: { sha, ref: branch }, base: { ref: "main" }, user: { login: author } });
    const checks = await run("pr.yml", "pull_request", {
      sha,
      ref: `refs/pull/${number}/merge`,
      headRef: branch,
      payload: { action, number, pull_request: { number, user: { login: author }, head: { sha, ref: branch, repo: { full_name: REPOSITORY } }, base: { ref: "main", sha: base } } },
    });
    const conclusion = checks.result;
    const comment = await run("pr-comment.yml", "workflow_run", {
      sha: base,
      branch: "main",
      payload: { action: "completed", workflow_run: { id: checks.runId, event: "pull_request", head_sha: sha, conclusion, html_url: `https://github.com/${REPOSITORY}/actions/runs/${checks.runId}`, pull_requests: [{ number }] } },
    });
    return { checks, comment, base };
  };

  before(async function () {
    node = await hre.network.createServer("node", "127.0.0.1", 0);
    const { address, port } = await node.listen();
    rpcUrl = `http://${address}:${port}`;
    service = await startTxService({ rpcUrl, dbFile: ":memory:", host: "127.0.0.1", port: 0, log: () => {} });
    gh = await startGitHubStandIn();
    store = mkdtempSync(path.join(tmpdir(), "gatehouse-harness-store-"));
    repo = createWorkflowRepo((dev) => {
      const edit = (file: string, fn: (t: string) => string) => {
        const p = path.join(dev, file);
        writeFileSync(p, fn(readFileSync(p, "utf8")));
      };
      // main runs V1; the PRs below upgrade it. The watcher posts to the GitHub stand-in.
      edit("policies/localhost.yaml", (y) => y.replace("contract: VaultV2", "contract: VaultV1").replace("contract: RegistryV2", "contract: RegistryV1") + `notifications:\n  - type: github\n    repository: ${REPOSITORY}\n`);
      // In this scratch repository `localhost` plays a real network: its records are committed.
      edit(".gitignore", (t) => t.replace("deployments/localhost.json\n", "").replace("proposals/localhost/\n", ""));
      edit(".github/gatehouse.json", (t) =>
        JSON.stringify({ ...JSON.parse(t), rollout: { testnet: "localhost", mainnet: "localhost" }, txService: { localhost: service.url }, readRpc: { localhost: rpcUrl } }, null, 2),
      );
    });
    const deploy = await gatehouse(repo.dev, "deploy", "--network", "localhost");
    expect(deploy.code, deploy.stderr).to.equal(0);
    repo.commitAndPush("Deploy the governance and the proxies on localhost");
  });

  after(async () => {
    await gh?.close();
    await service?.close();
    await node?.close();
    if (repo) rmSync(repo.root, { recursive: true, force: true });
    if (store) rmSync(store, { recursive: true, force: true });
  });

  let prComment: number;

  it("PR: a storage-breaking change fails the check, with the annotation on the Solidity line and one PR comment", async () => {
    repo.git(repo.dev, "checkout", "-q", "-b", "upgrade");
    repo.editDev("policies/localhost.yaml", (y) => y.replace("contract: VaultV1", "contract: VaultV2Inserted").replace("contract: RegistryV1", "contract: RegistryV2"));
    const sha = repo.commitAndPush("Upgrade the vault", "upgrade");
    gh.resetLog();
    const { checks: r, comment, base } = await pullRequest(1, "upgrade", sha);
    expect(r.result).to.equal("failure");
    expect(r.job("build").result, explain(r)).to.equal("success");
    expect(r.job("build").steps.filter((s) => s.skipped?.startsWith("allow-listed")).map((s) => s.run)).to.deep.equal(["npm ci", "npm test"]);
    // The PR's code runs with a read-only token and no secret; so does the audit, which runs the base's code.
    for (const job of ["build", "audit"]) expect(r.job(job).token, job).to.deep.equal({ metadata: "read", contents: "read" });
    expect(r.steps().flatMap((s) => s.secretsInEnv)).to.deep.equal([]);
    const [prCheckout, baseCheckout] = r.job("audit").steps.filter((s) => s.checkout).map((s) => s.checkout!);
    expect(prCheckout).to.deep.include({ path: ".", sha });
    expect(baseCheckout).to.deep.include({ path: ".base", sha: base });
    const check = stepOf(r, "audit", "Audit");
    expect(check.conclusion).to.equal("failure");
    const file = "test/fixtures/contracts/VaultV2Inserted.sol";
    const onLine = check.annotations.filter((a) => a.file === file);
    expect(onLine.length, check.stdout).to.be.greaterThan(0);
    expect(onLine[0]).to.deep.include({ level: "error", line: lineOf(file, "uint256 public depositCap;") });
    expect(onLine[0]!.title).to.include("gatehouse check (localhost)").and.include("'vault'");
    expect(check.summary).to.include("# Gatehouse check: localhost").and.include("**Result: FAIL**").and.include("### Storage layout").and.include("**inserted**");
    expect(check.summary).to.include(`Commit \`${sha}\``);
    // The required check fails with it.
    expect(r.job("gatehouse").result).to.equal("failure");
    expect(r.job("gatehouse").steps[0]!.annotations.map((a) => a.message)).to.deep.equal(["audit failure: every part of the PR check must succeed"]);
    // The comment: a workflow_run on the default branch's code, reading the report artifact.
    expect(comment.result, explain(comment)).to.equal("success");
    expect(comment.job("comment").steps.filter((s) => s.checkout).map((s) => s.checkout!.sha)).to.deep.equal([base]);
    expect(gh.calls()).to.deep.equal([`GET /repos/${REPOSITORY}/issues/1/comments`, `POST /repos/${REPOSITORY}/issues/1/comments`]);
    expect(gh.comments).to.have.length(1);
    prComment = gh.comments[0]!.id;
    expect(gh.comments[0]!.body).to.include(CHECK_COMMENT_MARKER).and.include("## Gatehouse upgrade check: FAIL").and.include("| `localhost` | FAIL:");
  });

  it("PR: the fix pushed to the same PR passes, and the same comment is edited in place", async () => {
    repo.editDev("policies/localhost.yaml", (y) => y.replace("contract: VaultV2Inserted", "contract: VaultV2"));
    const sha = repo.commitAndPush("Append the new vault variable instead", "upgrade");
    gh.resetLog();
    const { checks: r } = await pullRequest(1, "upgrade", sha, "synchronize");
    expect(r.result, explain(r)).to.equal("success");
    expect(r.job("gatehouse").result).to.equal("success");
    const check = stepOf(r, "audit", "Audit");
    expect(check.annotations).to.deep.equal([]);
    expect(check.outputs).to.deep.equal({ "finding-count": "0", networks: '["localhost"]' });
    expect(check.summary).to.include("**Result: PASS**").and.include("## vault: VaultV2").and.include("## registry: RegistryV2");
    expect(gh.calls()).to.deep.equal([`GET /repos/${REPOSITORY}/issues/1/comments`, `PATCH /repos/${REPOSITORY}/issues/comments/${prComment}`]);
    expect(gh.comments.map((c) => c.id)).to.deep.equal([prComment]);
    expect(gh.comments[0]!.body).to.include("## Gatehouse upgrade check: PASS");
    // The upgrade this PR would stage, simulated on a fork of the network with the PR's build deployed there.
    expect(gh.comments[0]!.body).to.include("PASS; simulated: expected diff below").and.include("Expected state diff if this is staged").and.include("vault (proxy) now runs implementation");
  });
  let proposal: { id: string; safeTxHash: string; operationId: string };

  it("merge: stage-and-propose stages on the testnet, proposes to the tx-service, commits the record; the mainnet job waits", async function () {
    this.timeout(300_000);
    repo.git(repo.dev, "checkout", "-q", "main");
    repo.git(repo.dev, "merge", "-q", "--no-ff", "-m", "Merge pull request #1 from acme/upgrade", "upgrade");
    const sha = repo.commitAndPush("Merge pull request #1", "main");
    const r = await run("stage-propose.yml", "push", { sha, branch: "main", payload: { ref: "refs/heads/main", after: sha } });
    expect(r.result, explain(r)).to.equal("success");
    const testnet = r.job("testnet");
    expect(testnet.concurrency).to.deep.equal({ group: "gatehouse-propose-testnet", cancelInProgress: false });
    const step = stepOf(r, "testnet", "Stage and propose");
    const o = step.outputs;
    expect(o).to.include({ "up-to-date": "false", staged: "true", approvals: "1", threshold: "2" });
    expect(o["safe-tx-hash"]).to.match(/^0x[0-9a-f]{64}$/);
    expect(o["domain-hash"]).to.match(/^0x[0-9a-f]{64}$/);
    expect(o["message-hash"]).to.match(/^0x[0-9a-f]{64}$/);
    expect(o["safe-link"]).to.equal(`${service.url}/api/v1/multisig-transactions/${o["safe-tx-hash"]}/`);
    expect(step.summary).to.include(o["safe-tx-hash"]!).and.include(o["domain-hash"]!).and.include(o["message-hash"]!).and.include(o["safe-link"]!);
    expect(step.summary).to.include("Submitted | to the Safe Transaction Service");
    expect(step.summary).to.include("## Signer packet").and.include("erc1967.implementation").and.include("No findings in the simulation");
    expect(testnet.outputs).to.include({ network: "localhost", "up-to-date": "false", "proposal-id": o["proposal-id"], "safe-tx-hash": o["safe-tx-hash"] });
    proposal = { id: o["proposal-id"]!, safeTxHash: o["safe-tx-hash"]!, operationId: o["operation-id"]! };

    // The staged rollout: the mainnet job needs the testnet to run the new code first.
    expect(r.job("mainnet").result).to.equal("skipped");

    // The proposal is in the tx-service, with the proposer's signature, as api-kit and Safe{Wallet} read it.
    const res = await fetch(`${service.url}/api/v1/multisig-transactions/${proposal.safeTxHash}/`);
    expect(res.status).to.equal(200);
    const tx = (await res.json()) as { safeTxHash: string; confirmations: { owner: string }[]; isExecuted: boolean };
    expect(tx.safeTxHash).to.equal(proposal.safeTxHash);
    expect(tx.confirmations).to.have.length(1);
    expect(tx.isExecuted).to.equal(false);

    // The record was committed and pushed to main.
    expect(stepOf(r, "testnet", "Commit the proposal record").conclusion).to.equal("success");
    expect(repo.git(repo.origin, "log", "-1", "--format=%s", "main")).to.equal(`gatehouse: proposal ${proposal.id} on localhost [skip ci]`);
    expect(repo.git(repo.origin, "show", "--name-only", "--format=", "main").split("\n")).to.include.members([`proposals/localhost/${proposal.id}.json`, `proposals/localhost/${proposal.id}.validation.json`, `proposals/localhost/${proposal.id}.validation.md`]);

    // The signer key went in through the step's env and never shows in any log, summary or output.
    // The script masked it itself (core.setSecret), on top of GitHub's masking of secrets.
    expect(step.stdout).to.include("::add-mask::***");
    expect(step.env.GATEHOUSE_SIGNER_KEY).to.equal("***");
    expect(r.logs()).to.not.include(OWNER_1_KEY.slice(2));
    // Only the network's environment job ever held the key and the RPC secret.
    expect(secretHolders(r)).to.deep.equal(["testnet@localhost: localhost/GATEHOUSE_SIGNER_KEY", "testnet@localhost: localhost/RPC_URL_LOCALHOST"]);
  });

  it("PR: a policy that relaxes the base policy fails the required check, with each relaxation named", async () => {
    repo.git(repo.dev, "checkout", "-q", "main");
    repo.git(repo.dev, "pull", "-q", "origin", "main");
    repo.git(repo.dev, "checkout", "-q", "-b", "relax", "main");
    repo.editDev("policies/localhost.yaml", (y) => y.replace("minDelaySeconds: 3600", "minDelaySeconds: 60").replace("unsafeAllow: []", "unsafeAllow: [delegatecall]"));
    const sha = repo.commitAndPush("Faster upgrades", "relax");
    const { checks: r } = await pullRequest(2, "relax", sha);
    expect(r.job("gatehouse").result).to.equal("failure");
    const audit = stepOf(r, "audit", "Audit");
    expect(audit.conclusion).to.equal("failure");
    expect(audit.annotations.filter((a) => a.file === "policies/localhost.yaml").map((a) => a.title)).to.deep.equal(["gatehouse audit: min-delay-lowered", "gatehouse audit: unsafe-allow-added"]);
    expect(audit.stdout).to.include("rules.minDelaySeconds lowered from 3600 to 60");
    expect(audit.stderr + audit.stdout).to.include("GH261");
    expect(gh.comments.find((c) => c.issue_number === 2)!.body).to.include("`min-delay-lowered`").and.include("## Gatehouse upgrade check: FAIL");
    repo.git(repo.dev, "checkout", "-q", "main");
  });

  it("PR: a change to scripts/ only still runs the required check, which passes on its own merits", async () => {
    repo.git(repo.dev, "checkout", "-q", "main");
    repo.git(repo.dev, "pull", "-q", "origin", "main");
    repo.git(repo.dev, "checkout", "-q", "-b", "scripts-only", "main");
    repo.editDev("scripts/actions/networks.ts", (t) => `${t}// a comment\n`);
    const sha = repo.commitAndPush("Touch a script", "scripts-only");
    const { checks: r } = await pullRequest(3, "scripts-only", sha);
    expect(r.result, explain(r)).to.equal("success");
    expect(r.jobs.map((j) => `${j.id}: ${j.result}`)).to.deep.equal(["build: success", "audit: success", "gatehouse: success"]);
    repo.git(repo.dev, "checkout", "-q", "main");
  });

  it("a dispatch on an unmerged branch refuses to stage, propose or execute, and no job gets the key", async () => {
    repo.git(repo.dev, "checkout", "-q", "-b", "feature", "main");
    const sha = repo.commitAndPush("An unreviewed branch", "feature");
    repo.git(repo.dev, "checkout", "-q", "main");
    for (const [workflow, first] of [["stage-propose.yml", "rollout"], ["execute.yml", "networks"]] as const) {
      const r = await run(workflow, "workflow_dispatch", { sha, branch: "feature", inputs: workflow === "stage-propose.yml" ? { network: "mainnet" } : {} });
      expect(r.result, workflow).to.equal("failure");
      const failed = r.job(first).steps.find((s) => s.conclusion === "failure")!;
      expect(failed.stdout, workflow).to.match(/GH260: (stage and propose|execute) refused on 'refs\/heads\/feature': only the protected branch 'main' may/);
      expect(r.jobs.filter((j) => j.id !== first).map((j) => j.result), workflow).to.satisfy((rs: string[]) => rs.every((x) => x === "skipped"));
      expect(secretHolders(r), workflow).to.deep.equal([]);
    }
  });

  it("a second owner signs; the execute workflow executes the Safe transaction, which schedules the operation", async function () {
    // sign builds the commit and re-simulates the batch against the signer packet before approving.
    this.timeout(300_000);
    repo.git(repo.dev, "pull", "-q", "origin", "main");
    const sign = await gatehouse(repo.dev, "sign", proposal.safeTxHash, "--network", "localhost", "--from", "account:2", "--tx-service", service.url);
    expect(sign.code, sign.stderr + sign.stdout).to.equal(0);
    const r = await run("execute.yml", "schedule", { sha: repo.head(), branch: "main", payload: { schedule: "7,37 * * * *" } });
    expect(r.result, explain(r)).to.equal("success");
    expect(r.job("networks").outputs).to.deep.equal({ networks: '["localhost"]', "protected-branch": "main" });
    expect(r.job("execute", { network: "localhost" }).environment?.name).to.equal("localhost");
    expect(secretHolders(r)).to.deep.equal(["execute@localhost: localhost/GATEHOUSE_SIGNER_KEY", "execute@localhost: localhost/RPC_URL_LOCALHOST"]);
    const step = stepOf(r, "execute", "Execute what is due", { network: "localhost" });
    expect(step.outputs).to.include({ scheduled: "1", executed: "0" });
    expect(step.summary).to.include(`| \`${proposal.id}\` |`).and.include("| scheduled |");
    expect(repo.git(repo.origin, "log", "-1", "--format=%s", "main")).to.equal("gatehouse: execution records on localhost [skip ci]");
  });

  it("the watch workflow posts the queued operation for review to GitHub, and saves its checkpoint in the cache", async () => {
    gh.resetLog();
    const r = await run("watch.yml", "schedule", { sha: repo.head(), branch: "main", payload: { schedule: "*/10 * * * *" } });
    expect(r.result, explain(r)).to.equal("success");
    const restore = stepOf(r, "watch", "Restore the watcher's checkpoint", { network: "localhost" });
    expect(restore.outputs["cache-matched-key"]).to.equal("");
    const watch = stepOf(r, "watch", "Watch once", { network: "localhost" });
    expect(Number(watch.outputs.posts)).to.be.greaterThan(0);
    const issues = gh.issues.filter((i) => i.body.includes(proposal.operationId));
    expect(issues, JSON.stringify(gh.issues.map((i) => i.title))).to.have.length(1);
    expect(issues[0]!.state).to.equal("open");
    expect(issues[0]!.labels.map((l) => l.name)).to.include("gatehouse");
    expect(issues[0]!.body).to.include("gatehouse cancel");
    expect(watch.summary).to.include("## Gatehouse watch on `localhost`");
    expect(stepOf(r, "watch", "Save the watcher's checkpoint", { network: "localhost" }).stdout).to.include("cache saved with key gatehouse-watch-localhost-");
  });

  it("before the ETA the execute workflow leaves the operation alone", async () => {
    const r = await run("execute.yml", "workflow_dispatch", { sha: repo.head(), branch: "main", inputs: { network: "localhost" } });
    expect(r.result, explain(r)).to.equal("success");
    const step = stepOf(r, "execute", "Execute what is due", { network: "localhost" });
    expect(step.outputs).to.include({ scheduled: "0", executed: "0" });
    expect(step.summary).to.match(/\| skipped \| waiting: \S.* left \(ETA \d{4}-\d\d-\d\dT/);
    expect(stepOf(r, "execute", "Commit the records", { network: "localhost" }).stdout).to.include("records of 'localhost' unchanged: nothing to commit");
    expect(stepOf(r, "execute", "Continue the staged rollout on the mainnet", { network: "localhost" }).skipped).to.equal("if: steps.execute.outputs.continue-rollout == 'true'");
  });

  it("after the delay the execute workflow upgrades the proxies and runs the post-upgrade checks; the watcher closes the issue", async () => {
    await rpc("evm_increaseTime", [3600 + 60]);
    await rpc("evm_mine");
    gh.resetLog();
    const r = await run("execute.yml", "schedule", { sha: repo.head(), branch: "main", payload: { schedule: "7,37 * * * *" } });
    expect(r.result, explain(r)).to.equal("success");
    const step = stepOf(r, "execute", "Execute what is due", { network: "localhost" });
    expect(step.outputs).to.include({ executed: "1" });
    expect(step.summary).to.include("### Post-upgrade checks").and.not.include("**FAIL**");
    expect((step.summary.match(/\| ok \|/g) ?? []).length).to.equal(2);
    // The staged rollout goes on: the testnet executed, so stage-propose is started for the mainnet.
    expect(step.outputs["continue-rollout"]).to.equal("true");
    expect(gh.dispatches).to.deep.equal([{ workflow: "stage-propose.yml", ref: "main", inputs: { network: "mainnet" } }]);

    repo.git(repo.dev, "pull", "-q", "origin", "main");
    const status = await gatehouse(repo.dev, "status", "--network", "localhost", "--json");
    expect(status.code, status.stderr).to.equal(0);
    const listed = (JSON.parse(status.stdout) as { proposals: { id: string; operation: string; recordState: string }[] }).proposals;
    expect(listed.find((p) => p.id === proposal.id)).to.include({ operation: "Done", recordState: "executed" });

    gh.resetLog();
    const w = await run("watch.yml", "schedule", { sha: repo.head(), branch: "main", payload: { schedule: "*/10 * * * *" } });
    expect(w.result, explain(w)).to.equal("success");
    expect(stepOf(w, "watch", "Restore the watcher's checkpoint", { network: "localhost" }).outputs["cache-matched-key"]).to.match(/^gatehouse-watch-localhost-/);
    const issues = gh.issues.filter((i) => i.body.includes(proposal.operationId));
    expect(issues).to.have.length(1);
    expect(issues[0]).to.include({ state: "closed", state_reason: "completed" });
    expect(gh.calls().filter((c) => c.startsWith("POST"))).to.deep.equal([]);
  });

  it("dispatched for the mainnet: the testnet runs the new code, so the mainnet job runs in its protected environment", async () => {
    // The dispatch the executor made above.
    const [dispatch] = gh.dispatches;
    const r = await run(dispatch!.workflow, "workflow_dispatch", { sha: repo.head(dispatch!.ref), branch: dispatch!.ref, inputs: dispatch!.inputs });
    expect(r.result, explain(r)).to.equal("success");
    expect(r.job("testnet").outputs).to.include({ "up-to-date": "true" });
    expect(r.job("testnet").environment?.name).to.equal("localhost");
    const mainnet = r.job("mainnet");
    expect(mainnet.result).to.equal("success");
    // The environment named after the rollout's mainnet network (`localhost` in this scratch repository).
    expect(mainnet.environment?.name).to.equal("localhost");
    expect(mainnet.concurrency).to.deep.equal({ group: "gatehouse-propose-mainnet", cancelInProgress: false });
    expect(stepOf(r, "mainnet", "Stage and propose").outputs).to.include({ "up-to-date": "true", staged: "false" });
    expect(stepOf(r, "mainnet", "Commit the proposal record").skipped).to.equal("if: steps.propose.outputs.staged == 'true'");
  });
});
