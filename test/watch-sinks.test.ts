import { expect } from "chai";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { A, TX, calls, facts, record, scheduled, topology } from "./helpers/watch-fixtures.ts";
import { startGithubStandin, type GithubStandin } from "./helpers/github-standin.ts";
import { startGitHubStandIn } from "./helpers/github-rest-standin.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./helpers/webhook-receiver.ts";
import { deployed, type Deployed } from "./helpers/fixture.ts";
import { scheduleOutsidePipeline } from "./helpers/watch-scenario.ts";
import { decideOperation, operationOccurrences, renderDecision, type Topology } from "../src/watch/decide.ts";
import { escapeMarkdown, renderText, untrusted } from "../src/review/untrusted.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { githubSink } from "../src/watch/sinks/github.ts";
import { marker, type Sink, type SinkPost } from "../src/watch/sinks/sink.ts";
import { webhookSink } from "../src/watch/sinks/webhook.ts";
import { watcherOptions } from "../src/watch/setup.ts";
import { runOnce } from "../src/watch/watcher.ts";
import type { ProposalRecord } from "../src/records/proposal.ts";

/**
 * Posts cannot be spoofed or injected. GitHub's API is a local stand-in (api.github.com cannot be
 * reached from tests); webhooks go to a loopback receiver; files to a temporary folder.
 */

const PAYLOAD = "@everyone @org/team [click](https://evil) ![x](https://evil/img)\n> [!NOTE] approved <img src=x onerror=alert(1)> <!channel> @here";

/** A review whose proxy name, contract name and storage-layout label are the payload (claims from records). */
function injectedPost(): SinkPost {
  const r: ProposalRecord = record();
  const t: Topology = { ...topology, proxies: topology.proxies.map((p) => (p.name === "vault" ? { ...p, name: PAYLOAD } : p)) };
  r.operations[1]!.contract = PAYLOAD;
  r.operations[1]!.oldContract = PAYLOAD;
  r.storageLayoutDiff = { [PAYLOAD]: [{ label: `${PAYLOAD} \`x\` |`, type: PAYLOAD, slot: "2", offset: 0, status: "inserted", file: PAYLOAD, line: 1 }] };
  const occ = operationOccurrences(scheduled(r.operationId, [calls.registry, calls.vault], { block: 10, tx: TX.schedule }), A.timelock)[0]!;
  const d = decideOperation(occ, { topology: t, records: [r], facts: facts() });
  const rendered = renderDecision(d, 1_000_100);
  return { key: d.key, network: "default", operationId: d.operationId!, severity: d.severity, state: d.state, title: rendered.title, summary: rendered.summary, markdown: rendered.markdown, json: rendered.json, contentHash: d.contentHash };
}

/** Plain text (issue titles, JSON summaries): nothing pings or autolinks, one line. */
function expectInertPlain(text: string, where: string): void {
  expect(text, `${where}: mention`).to.not.match(/(^|[^\w`])@(everyone|here|org\/team|channel)\b/);
  expect(text, `${where}: bare URL`).to.not.contain("https://evil");
  expect(text, `${where}: one line`).to.not.contain("\n");
}

/** Nothing in `text` pings, links, shows an image, injects HTML or starts a banner (code is not parsed, so it is left out). */
function expectInertMarkdown(text: string, where: string): void {
  expect(text, `${where}: mention`).to.not.match(/(^|[^\w`])@(everyone|here|org\/team|channel)\b/);
  expect(text, `${where}: bare URL`).to.not.contain("https://evil");
  const parsed = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  expect(parsed, `${where}: link or image`).to.not.match(/(?<!\\)\[(click|x)(?<!\\)\]\(/);
  expect(parsed, `${where}: HTML`).to.not.match(/(?<!\\)<img/);
  expect(parsed, `${where}: banner`).to.not.match(/^\s*>\s*\[!NOTE\]/m);
  expect(parsed, `${where}: Slack special mention`).to.not.match(/(?<!\\)<!channel>/);
}

describe("watch sinks: untrusted text arrives inert in every sink", function () {
  let gh: GithubStandin;
  let hooks: Record<"slack" | "discord" | "json", WebhookReceiver>;
  let dir: string;
  before(async () => {
    gh = await startGithubStandin({ owner: "acme", repo: "gov", token: "t0k" });
    hooks = { slack: await startWebhookReceiver(), discord: await startWebhookReceiver(), json: await startWebhookReceiver() };
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-sinks-"));
  });
  after(async () => {
    await gh.close();
    for (const h of Object.values(hooks)) await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a payload of mentions, links, an image, a fake [!NOTE] banner, <img> and <!channel> as record names is escaped per sink", async () => {
    const post = injectedPost();
    // The payload is in the rendered review, marked as untrusted, not as template text.
    expect(post.markdown).to.contain(untrusted(PAYLOAD).slice(0, 20));
    const sinks: Sink[] = [
      githubSink({ repository: "acme/gov", token: "t0k", labels: ["gatehouse"], baseUrl: gh.baseUrl, baseDelayMs: 1 }),
      ...(["slack", "discord", "json"] as const).map((format) => webhookSink({ id: `webhook:${format}`, url: hooks[format].url, format, baseDelayMs: 1 })),
      filesSink(path.join(dir, "posts"), { id: "files:posts" }),
    ];
    for (const s of sinks) await s.publish(post, {});
    for (const s of sinks) await s.flush?.();

    // GitHub: the issue body is Markdown, the title plain text.
    const issue = gh.issues[0]!;
    expectInertMarkdown(issue.body, "GitHub body");
    expectInertPlain(issue.title, "GitHub title");
    expect(issue.body).to.contain("approved").and.to.contain("everyone"); // still readable
    // Storage label in a code span: no backtick or pipe can break out of it or the table.
    expect(issue.body).to.match(/\| `[^`\n]*everyone[^`\n]*ˋxˋ \\\|` \|/);

    // Slack: &, <, > as entities everywhere; no @channel/@here/@everyone.
    const slack = JSON.stringify(hooks.slack.deliveries[0]!.body);
    expect(slack).to.not.match(/<!channel>|<img|<https?:/);
    expect(slack).to.contain("&lt;!channel&gt;");
    expect(slack).to.not.match(/@(channel|here|everyone)\b/);
    expect(slack).to.not.contain("https://evil");

    // Discord: nobody pinged whatever the text, and the Markdown escaped.
    const discord = hooks.discord.deliveries[0]!.body as { content: string; embeds: { title: string; description: string }[]; allowed_mentions: unknown };
    expect(discord.allowed_mentions).to.deep.equal({ parse: [] });
    for (const text of [discord.content, discord.embeds[0]!.title, discord.embeds[0]!.description]) expectInertMarkdown(text, "Discord");

    // JSON webhook: title/summary plain, markdown as GitHub's; data is the typed review (escaped by its reader).
    const json = hooks.json.deliveries[0]!.body as { title: string; summary: string; markdown: string; data: { calls: { upgrade: { proxyName: string } }[] } };
    expectInertPlain(json.title, "JSON title");
    expectInertPlain(json.summary, "JSON summary");
    expectInertMarkdown(json.markdown, "JSON markdown");
    expect(json.data.calls[1]!.upgrade.proxyName).to.equal(PAYLOAD);

    // Files: the page is Markdown as on GitHub, the index escapes the title, the JSON is data without marks.
    const files = readdirSync(path.join(dir, "posts"));
    const page = readFileSync(path.join(dir, "posts", files.find((f) => f.endsWith(".md") && f !== "index.md")!), "utf8");
    expectInertMarkdown(page, "files page");
    expectInertMarkdown(readFileSync(path.join(dir, "posts", "index.md"), "utf8"), "files index");
    const data = readFileSync(path.join(dir, "posts", files.find((f) => f.endsWith(".json"))!), "utf8");
    expect(data).to.not.match(/[\u{E000}-\u{E002}]/u);
  });

  it("the Markdown escaper keeps the text readable and cannot be closed from inside", () => {
    expect(escapeMarkdown("VaultV2")).to.equal("VaultV2");
    expect(renderText(`a ${untrusted("x\u{E001} **bold** @dev")} b`, "markdown")).to.equal("a x \\*\\*bold\\*\\* @\u2060dev b");
    expect(renderText(`${untrusted("<!here> & <@U1>")}`, "slack")).to.equal("&lt;!here&gt; &amp; &lt;@\u2060U1&gt;");
  });
});

describe("watch sinks: a Gatehouse marker planted by someone else is not adopted", function () {
  let d: Deployed;
  let gh: GithubStandin;
  let dir: string;
  afterEach(async () => {
    await gh?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    (gh as GithubStandin | undefined) = undefined;
    (d as Deployed | undefined) = undefined;
    dir = "";
  });

  it("the watcher posts its own issue and an alert naming the planted one", async () => {
    d = await deployed();
    gh = await startGithubStandin({ owner: "acme", repo: "gov", token: "t0k" });
    dir = mkdtempSync(path.join(tmpdir(), "gatehouse-planted-"));
    const sinks = () => [githubSink({ repository: "acme/gov", token: "t0k", labels: ["gatehouse"], baseUrl: gh.baseUrl, baseDelayMs: 1 })];
    const base = await watcherOptions(d.setup);
    const db = path.join(dir, "watch.sqlite");
    await runOnce({ ...base, sinks: sinks(), ledger: db, retry: { baseDelayMs: 1 } });
    const { operationId } = await scheduleOutsidePipeline(d);
    // The attacker reads the chain, computes the post the watcher would write and opens it first:
    // a first pass with a throwaway ledger and a files sink tells us that post's key and hash.
    const probe = path.join(dir, "probe");
    await runOnce({ ...base, sinks: [filesSink(probe, { id: "files:probe" })], ledger: path.join(dir, "probe.sqlite"), retry: { baseDelayMs: 1 } });
    const forged = JSON.parse(readFileSync(path.join(probe, readdirSync(probe).find((f) => f.startsWith("op-") && f.endsWith(".json"))!), "utf8")) as { key: string; state: string; contentHash: string };
    expect(forged.key).to.contain(operationId);
    gh.issues.push({ number: 1, title: "Queued: nothing to see", body: `${marker(forged as never)}\nAll good, reviewed.`, labels: ["gatehouse", "alert"], state: "closed", state_reason: "completed", author: "mallory" });

    const r = await runOnce({ ...base, sinks: sinks(), ledger: db, retry: { baseDelayMs: 1 } });
    expect(r.posts.filter((p) => p.action === "adopted")).to.deep.equal([]);
    expect(gh.writes()).to.deep.equal(["POST /repos/acme/gov/issues", "POST /repos/acme/gov/issues"]);
    const [, own, alert] = gh.issues;
    expect(own!.body).to.contain(forged.key);
    expect(alert!.title).to.equal("ALERT: issue #1 in acme/gov imitates a Gatehouse post");
    expect(alert!.body).to.contain("written by mallory, not by the watcher's account");
    expect(alert!.labels).to.include("alert");
    expect(r.posts.find((p) => p.alerts.includes("planted-marker"))).to.include({ severity: "alert", action: "created" });
    // The next run neither adopts it nor repeats the alert.
    const again = await runOnce({ ...base, sinks: sinks(), ledger: db, retry: { baseDelayMs: 1 } });
    expect(again.posts.filter((p) => p.action === "created" || p.action === "adopted")).to.deep.equal([]);
    expect(gh.issues).to.have.length(3);
  });

  it("with an App installation token (no GET /user), the bot's login comes from GraphQL viewer", async () => {
    const rest = await startGitHubStandIn({ token: "ghs_x" });
    try {
      const sink = githubSink({ repository: "acme/gov", token: "ghs_x", labels: ["gatehouse"], baseUrl: rest.url, baseDelayMs: 1 });
      const post = { ...injectedPost(), markdown: "ok", title: "t", summary: "s" };
      await sink.publish(post, {});
      // A second sink (a restarted process) finds the bot's own issue by its marker.
      const again = githubSink({ repository: "acme/gov", token: "ghs_x", labels: ["gatehouse"], baseUrl: rest.url, baseDelayMs: 1 });
      expect(await again.find!(post.key)).to.deep.include({ remoteId: String(rest.issues[0]!.number) });
      expect(rest.calls()).to.include.members(["GET /user", "POST /graphql"]);
    } finally {
      await rest.close();
    }
  });
});
