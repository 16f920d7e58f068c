#!/usr/bin/env node
// The PR workflow's one comment: every network's check report, found by its hidden marker and edited in
// place on the next push. Reads <report-dir>/*.json written by check.ts; input `networks` (JSON) lists
// the networks that should have reported. Needs GITHUB_TOKEN (pull-requests: write) in the step's env.
// Outside Actions, or without a PR, it prints the comment instead.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { CHECK_COMMENT_MARKER, CheckArtifact, checkCommentBody } from "../../src/actions/check-report.ts";
import { octokitFor, pullRequestNumber, runContext, upsertComment } from "../../src/actions/github.ts";
import { actionsIO } from "../../src/actions/io.ts";
import { maskSecrets, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  const reportDir = io.input("report-dir", { fallback: ".gatehouse/check" });
  const expectedInput = io.input("networks");
  const expected = expectedInput ? (JSON.parse(expectedInput) as string[]) : [];
  const artifacts = existsSync(reportDir)
    ? readdirSync(reportDir)
        .filter((f) => f.endsWith(".json"))
        .sort()
        .map((f) => CheckArtifact.parse(JSON.parse(readFileSync(path.join(reportDir, f), "utf8"))))
    : [];
  const ctx = runContext();
  const body = checkCommentBody({ expected, artifacts, commit: ctx.sha, runUrl: ctx.runUrl });
  const pr = pullRequestNumber(ctx);
  const token = process.env.GITHUB_TOKEN;
  if (!io.inActions || pr === undefined || !token) {
    io.log(pr === undefined ? "not a pull request: printing the comment" : "no GITHUB_TOKEN: printing the comment");
    await io.summary(body);
    return;
  }
  try {
    const r = await upsertComment({ octokit: octokitFor(token, ctx.apiUrl), owner: ctx.owner, repo: ctx.repo, issueNumber: pr, marker: CHECK_COMMENT_MARKER, body });
    io.output("comment-id", r.id);
    io.output("comment-action", r.action);
    io.log(`PR #${pr}: comment ${r.action} (${r.url})`);
  } catch (e) {
    const status = (e as { status?: number }).status;
    // A fork's PR gets a read-only token: the report still is in the job summaries.
    if (status === 403) {
      io.annotate({ level: "warning", title: "gatehouse", message: `cannot comment on PR #${pr} (403: the token lacks pull-requests: write, as for PRs from forks); the reports are in the job summaries` });
      return;
    }
    throw e;
  }
});
