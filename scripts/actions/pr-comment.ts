#!/usr/bin/env node
// The PR comment, posted by pr-comment.yml: a `workflow_run` of the PR checks, which runs the default
// branch's code with a token that may write to pull requests, and never checks out or runs the PR's
// code. It reads the audit report (the artifact `gatehouse-report`, downloaded to <report-dir>) as
// data, validated by its schema, and finds the one comment by its hidden marker to edit it in place.
// Which PR: GitHub's own event payload (workflow_run.pull_requests) when it names one; for a fork's PR
// (where GitHub leaves that list empty) the number in the report, accepted only if that PR's head is
// the commit the run checked (GET /pulls/{n}), so a forged report cannot aim the comment elsewhere.
// Needs GITHUB_TOKEN (pull-requests: write) in the step's env. Outside Actions it prints the comment.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { GatehouseError } from "../../src/errors.ts";
import { AuditReport, auditMarkdown } from "../../src/actions/audit.ts";
import { CHECK_COMMENT_MARKER } from "../../src/actions/check-report.ts";
import { octokitFor, runContext, upsertComment } from "../../src/actions/github.ts";
import { actionsIO } from "../../src/actions/io.ts";
import { maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  const reportDir = io.input("report-dir", { fallback: ".gatehouse/report" });
  const ctx = runContext();
  const run = (ctx.event.workflow_run ?? {}) as { id?: number; head_sha?: string; conclusion?: string; html_url?: string; pull_requests?: { number: number }[] };
  const file = path.join(reportDir, "audit.json");
  let report: AuditReport | undefined;
  if (existsSync(file)) {
    const parsed = AuditReport.safeParse(JSON.parse(readFileSync(file, "utf8")));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new GatehouseError("CI_REPORT_INVALID", { file, path: issue.path.join(".") || "(root)", expected: issue.message });
    }
    report = parsed.data;
  }
  const conclusion = run.conclusion ?? "unknown";
  const body = report
    ? `${CHECK_COMMENT_MARKER}\n${auditMarkdown(report, { heading: "Gatehouse upgrade check", runUrl: run.html_url, conclusion })}`
    : `${CHECK_COMMENT_MARKER}\n## Gatehouse upgrade check: FAIL\n\nNo audit report: the PR checks concluded \`${conclusion}\` before writing one${run.html_url ? ` ([workflow run](${run.html_url}))` : ""}.\n`;
  const token = process.env.GITHUB_TOKEN;
  const fromEvent = run.pull_requests?.[0]?.number;
  if (!io.inActions || !token || (fromEvent === undefined && !report?.pr)) {
    io.log(!token ? "no GITHUB_TOKEN: printing the comment" : "no pull request: printing the comment");
    await io.summary(body);
    return;
  }
  const octokit = octokitFor(token, ctx.apiUrl);
  let pr = fromEvent;
  if (pr === undefined) {
    const { data } = await octokit.rest.pulls.get({ owner: ctx.owner, repo: ctx.repo, pull_number: report!.pr! });
    if (data.head.sha !== run.head_sha) {
      io.annotate({ level: "warning", title: "gatehouse", message: `the report names PR #${report!.pr}, whose head ${data.head.sha} is not the checked commit ${run.head_sha}: no comment` });
      await io.summary(body);
      return;
    }
    pr = report!.pr!;
  }
  const r = await upsertComment({ octokit, owner: ctx.owner, repo: ctx.repo, issueNumber: pr, marker: CHECK_COMMENT_MARKER, body });
  io.output("comment-id", r.id);
  io.output("comment-action", r.action);
  io.log(`PR #${pr}: comment ${r.action} (${r.url})`);
});
