import type { EventAlert } from "../review/alert.ts";
import type { OperationReview } from "../review/operation.ts";
import { oneLine, untag, untagData } from "../review/untrusted.ts";
import { formatDuration } from "../timelock/calls.ts";
import { html, toText, trustedConstant, type Html } from "./html.ts";
import { GROUPS, feedItems, type SimulationProblem, type SimulationView, type SiteEntry, type SiteModel } from "./model.ts";

/**
 * The site's pages (pure): the model → HTML, Atom and JSON text. Every value goes through the escaping
 * template (src/site/html.ts); untrusted spans of the review's tagged text are shown as marked text.
 * Pages load one stylesheet and one script from the site itself (CSP: nothing inline, nothing external);
 * without JavaScript every fact is on the page, the script only adds the live countdown and copy buttons.
 */

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'none'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'";

// An untrusted span, with the Markdown emphasis or code marks a template may have put around it.
const SENTINEL_SPAN = /(\*\*|`)?([\u{E000}\u{E002}])([^\u{E001}]*)(?:\u{E001}|$)(\*\*|`)?/gu;
const clean = (s: string) => oneLine(s).replace(/[\u202A-\u202E\u2066-\u2069\u200E\u200F]/gu, "");

/** Template text: `code` and **strong** as in the Markdown the reviews are written in. */
function trustedText(s: string): Html {
  const parts: (Html | string)[] = [];
  let i = 0;
  for (const m of s.matchAll(/`([^`]+)`|\*\*([^*]+)\*\*/g)) {
    parts.push(s.slice(i, m.index));
    parts.push(m[1] !== undefined ? html`<code>${m[1]}</code>` : html`<strong>${m[2]}</strong>`);
    i = m.index + m[0].length;
  }
  parts.push(s.slice(i));
  return html`${parts}`;
}

/** Tagged text (src/review/untrusted.ts) as markup: claims in a marked span, shown as text, on one line. */
export function tagged(text: string): Html {
  const parts: Html[] = [];
  let i = 0;
  for (const m of text.matchAll(SENTINEL_SPAN)) {
    const [whole, before, open, raw, after] = m;
    const wrapped = before !== undefined && before === after;
    parts.push(trustedText(text.slice(i, m.index) + (before !== undefined && !wrapped ? before : "")));
    const value = clean(raw!);
    const span = open === "\u{E002}" || (wrapped && before === "`") ? html`<code class="claim">${value}</code>` : html`<span class="claim">${value}</span>`;
    parts.push(wrapped && before === "**" ? html`<strong>${span}</strong>` : span);
    i = m.index + whole.length - (after !== undefined && !wrapped ? after.length : 0);
  }
  parts.push(trustedText(text.slice(i)));
  return html`${parts}`;
}

/** A data value from a record or the chain: untagged, one line, escaped by the template. */
const plain = (v: unknown): string => clean(untag(String(v ?? "")));

export const isoUtc = (t: number) => new Date(t * 1000).toISOString().replace(".000Z", "Z");

function layout(o: { title: string; depth: 0 | 1; body: Html; generatedAt?: string; root?: boolean }): string {
  const up = o.depth === 1 ? "../" : "";
  return toText(html`${trustedConstant("<!doctype html>\n")}<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${o.title}</title>
<link rel="stylesheet" href="${up}assets/site.css">
<link rel="icon" type="image/svg+xml" href="${up}assets/favicon.svg">
${o.root ? "" : html`<link rel="alternate" type="application/atom+xml" title="Gatehouse operations" href="${up}feed.xml">`}
<script src="${up}assets/site.js" defer></script>
</head>
<body>
<header class="top"><a href="${up}index.html">Gatehouse review</a>${o.root ? "" : html` <nav><a href="${up}feed.xml">Atom feed</a> <a href="${up}operations.json">operations.json</a></nav>`}</header>
<main id="main">
${o.body}
</main>
<footer><p>Built by <code>gatehouse site</code> from the watcher's ledger${o.generatedAt ? html` at <time datetime="${o.generatedAt}">${o.generatedAt}</time>` : ""}. The chain is the truth: every fact here can be checked against it.</p></footer>
</body>
</html>
`);
}

function stateBadge(e: Pick<SiteEntry, "urgency" | "state" | "severity">): Html {
  const word = e.urgency === "alert" ? (e.state === "alert" ? "ALERT" : `ALERT · ${e.state === "scheduled" ? "queued" : e.state}`) : e.urgency === "pending" ? "queued" : e.state;
  return html`<span class="badge badge-${e.urgency}">${word}</span>`;
}

/** The ETA as a date (always) and a countdown that the script keeps live (progressive enhancement). */
function eta(t: number | undefined, scheduled: boolean): Html {
  if (t === undefined) return html``;
  return html`<span class="eta">ETA <time datetime="${new Date(t * 1000).toISOString()}" data-eta="${t}">${isoUtc(t)}</time>${scheduled ? html` <span class="countdown" data-eta="${t}" role="timer" aria-live="off"></span>` : ""}</span>`;
}

// ---------------------------------------------------------------------------------------------------
// Index

export function renderIndex(model: SiteModel): string {
  const groups = GROUPS.map((g) => ({ ...g, entries: model.entries.filter((e) => e.urgency === g.urgency) }));
  const alerts = groups[0]!.entries.length;
  const body = html`<h1>Governance operations on ${model.network}</h1>
${alerts > 0 ? html`<p class="banner banner-alert" role="alert"><strong>${alerts} ALERT${alerts === 1 ? "" : "S"}</strong>: the watcher found governance activity it cannot explain. Read each one below; the guardian can cancel a queued operation until it is executed.</p>` : html`<p class="banner banner-ok">No alert.</p>`}
<p>Every operation of the timelock, most urgent first: alerts, then queued operations by ETA, then executed and cancelled ones. Subscribe to the <a href="feed.xml">Atom feed</a>, or read <a href="operations.json">operations.json</a>.</p>
${groups.filter((g) => g.urgency !== "retracted" || g.entries.length > 0).map((g) => html`<section aria-labelledby="h-${g.urgency}" class="group group-${g.urgency}">
<h2 id="h-${g.urgency}">${g.heading} <span class="count">(${g.entries.length})</span></h2>
${g.entries.length === 0 ? html`<p class="none">None.</p>` : html`<ol class="ops">${g.entries.map(indexItem)}</ol>`}
</section>`)}`;
  return layout({ title: `Gatehouse: ${model.network} operations`, depth: 0, body, generatedAt: model.generatedAt });
}

function indexItem(e: SiteEntry): Html {
  return html`<li class="op op-${e.urgency}" data-key="${e.key}">
<a class="op-title" href="${e.page}">${tagged(e.title)}</a>
<div class="op-meta">${stateBadge(e)} ${e.state === "scheduled" ? eta(e.eta, true) : html`<span>block ${e.block}</span>`}</div>
<div class="verdict">Verdict: ${e.verdict}</div>
</li>`;
}

// ---------------------------------------------------------------------------------------------------
// Operation and alert pages

export function renderEntryPage(e: SiteEntry, network: string): string {
  const title = plain(e.title);
  const body = e.review ? operationBody(e, e.review, network) : alertBody(e, e.alert!);
  return layout({ title: `${title} · Gatehouse`, depth: 1, body });
}

function operationAlerts(r: OperationReview): Html {
  if (r.alerts.length === 0) return html``;
  return html`<section class="banner banner-alert" role="alert" aria-labelledby="h-alert">
<h2 id="h-alert">ALERT: do not let this run unexamined</h2>
<ul>${r.alerts.map((a) => html`<li><strong>${a.kind}</strong>${a.check ? html` (failed check: ${a.check})` : ""}: ${tagged(a.message)}</li>`)}</ul>
<p><strong>What it means:</strong> the watcher could not prove that this operation is the reviewed, governed change its checks require. <strong>What to do:</strong> ${r.status === "scheduled" ? html`if nobody you trust can explain it, the guardian cancels it now with the <a href="#cancel">cancel path</a> below, then the Safe owners find out who scheduled it.` : html`it is ${r.status}; find out who scheduled it and what it changed.`}</p>
</section>`;
}

function operationBody(e: SiteEntry, r: OperationReview, network: string): Html {
  const statusLine =
    r.status === "scheduled"
      ? html`queued; ${eta(r.eta?.timestamp, true)}: the earliest time anyone can execute it`
      : r.status === "executed"
        ? html`executed in block ${r.executed!.block} (transaction <code>${r.executed!.txHash}</code>)`
        : r.status === "cancelled"
          ? html`cancelled in block ${r.cancelled!.block} (transaction <code>${r.cancelled!.txHash}</code>)`
          : html`retracted: the block that scheduled it is no longer on the canonical chain`;
  return html`<h1>${tagged(r.title)}</h1>
${operationAlerts(r)}
<dl class="facts">
<dt>State</dt><dd>${stateBadge(e)} ${statusLine}</dd>
<dt>Verdict</dt><dd>${e.verdict}</dd>
<dt>Network</dt><dd>${r.network} (chain ${r.chainId})</dd>
<dt>Operation id</dt><dd><code>${r.operationId}</code></dd>
<dt>Timelock</dt><dd><code>${r.timelock}</code></dd>
<dt>Delay</dt><dd>${r.delaySeconds} s (${formatDuration(BigInt(r.delaySeconds))})</dd>
</dl>
<section aria-labelledby="h-does"><h2 id="h-does">What it does</h2>
<ol>${r.calls.map((c) => html`<li>${tagged(c.description)}</li>`)}</ol></section>
${cancelSection(e, r, network)}
<section aria-labelledby="h-calls"><h2 id="h-calls">Decoded calls</h2>
${r.calls.map((c) => html`<h3>Call ${c.index + 1}</h3><dl class="facts">
<dt>Target</dt><dd><code>${c.target}</code></dd>
<dt>Value</dt><dd>${c.value} wei</dd>
${c.upgrade
  ? html`<dt>Upgrade</dt><dd>${c.upgrade.kind === "uups" ? "UUPS" : "Transparent"} proxy ${c.upgrade.proxyName !== undefined ? html`<span class="claim">${plain(c.upgrade.proxyName)}</span> ` : ""}<code>${c.upgrade.proxy}</code>${c.upgrade.proxyAdmin ? html` through its ProxyAdmin <code>${c.upgrade.proxyAdmin}</code>` : ""}</dd>
<dt>From</dt><dd>${c.upgrade.oldImplementation ? html`<code>${c.upgrade.oldImplementation}</code>` : "unknown"}${c.upgrade.oldContract ? html` (<span class="claim">${plain(c.upgrade.oldContract)}</span>)` : ""}</dd>
<dt>To</dt><dd><code>${c.upgrade.newImplementation}</code>${c.upgrade.contract ? html` (the reviewed build of <span class="claim">${plain(c.upgrade.contract)}</span>)` : c.upgrade.claimedContract ? html` (the record claims <span class="claim">${plain(c.upgrade.claimedContract)}</span>; <strong>not proven</strong>)` : ""}</dd>
<dt>Initializer</dt><dd>${c.upgrade.initializerCall ? html`<code>${plain(c.upgrade.initializerCall)}</code>` : c.upgrade.initializer === "0x" ? "none" : html`<code class="wrap">${c.upgrade.initializer}</code>`}</dd>
${c.upgrade.bytecodeHash !== undefined ? html`<dt>Code hash on chain</dt><dd><code>${c.upgrade.bytecodeHash ?? "no code"}</code></dd>` : ""}
${c.upgrade.expectedBytecodeHash ? html`<dt>Reviewed build</dt><dd><code>${c.upgrade.expectedBytecodeHash}</code>${c.upgrade.build ? html` (<span class="claim">${plain(c.upgrade.build.contract)}</span> at <code>${plain(c.upgrade.build.commit)}</code>)` : ""}</dd>` : ""}`
  : ""}
<dt>Data</dt><dd><code class="wrap">${c.data}</code></dd>
</dl>`)}
</section>
${simulationSection(r, e.simulation)}
${layoutSection(r)}
${sourceSection(e, r)}
<section aria-labelledby="h-checks"><h2 id="h-checks">Verification checks</h2>
${r.verification.checks.length === 0
  ? html`<p>Nothing to verify against: no proposal record names this operation. <strong>Nobody proposed it through the Gatehouse pipeline.</strong></p>`
  : html`<ul class="checks">${r.verification.checks.map((c) => html`<li class="${c.ok ? "ok" : "fail"}"><span class="mark">${c.ok ? "holds" : "FAILS"}</span> <strong>${c.name}</strong>: ${tagged(c.detail)}</li>`)}</ul>`}
</section>
${safeSection(r)}
${historySection(r)}`;
}

function cancelSection(e: SiteEntry, r: OperationReview, network: string): Html {
  const c = r.cancel;
  const open = r.status === "scheduled";
  return html`<section id="cancel" aria-labelledby="h-cancel" class="cancel"><h2 id="h-cancel">Cancel path (guardian)</h2>
${c.guardians
  ? c.guardians.length === 0
    ? html`<p><strong>No guardian:</strong> the deployment record names no canceller of the timelock.</p>`
    : html`<ul>${c.guardians.map((g) => html`<li>Guardian <code>${g.address}</code>: ${g.safe ? "a Safe (its owners sign the cancel)" : "not a Safe (an account or another contract)"}, ${g.cancellerRole ? "holds CANCELLER_ROLE on the timelock" : html`<strong>does not hold CANCELLER_ROLE</strong> on the timelock now`}.</li>`)}</ul>`
  : ""}
${open
  ? html`<p>The guardian can cancel until the operation is executed${r.eta ? html`: the ETA (${isoUtc(r.eta.timestamp)}) is the earliest it can run, and it stays cancellable after it for as long as nobody executes it` : ""}. Any of these equivalent ways:</p>`
  : html`<p>The operation is ${r.status}; it can no longer be cancelled. The cancel call is kept here for the record.</p>`}
<ol>
<li>Command: <code>${c.command}</code></li>
<li>Call <code>${c.function}</code> on the timelock <code>${c.timelock}</code>, value 0, calldata:
<div class="copyable"><code id="cancel-calldata" class="wrap">${c.calldata}</code> <button type="button" class="copy" data-copy="cancel-calldata" hidden>Copy calldata</button> <span class="copied" role="status"></span></div></li>
<li>${e.builderFile
  ? html`<a href="${e.builderFile.slice("op/".length)}" download="cancel-${r.operationId.slice(2, 14)}.json" class="download">Download the Transaction Builder JSON</a>`
  : "The Transaction Builder JSON"} for the guardian Safe's Transaction Builder app${c.guardianSafe ? html` (guardian Safe <code>${c.guardianSafe}</code>)` : ""}; <code>${c.builderCommand}</code> writes the same file on ${network}.</li>
</ol>
</section>`;
}

function isProblem(s: SimulationView | SimulationProblem): s is SimulationProblem {
  return "problem" in s;
}

function simulationSection(r: OperationReview, s: SimulationView | SimulationProblem | undefined): Html {
  const head = html`<h2 id="h-sim">State and permission diff (simulation)</h2>`;
  if (!s) return html`<section aria-labelledby="h-sim">${head}<p>No simulation report: ${r.proposal ? html`no signer packet <code>proposals/${r.network}/${plain(r.proposal.id)}.validation.json</code> was published` : "no proposal record"}. Run <code>gatehouse simulate</code> to see what it changes.</p></section>`;
  if (isProblem(s)) return html`<section aria-labelledby="h-sim">${head}<p class="fail">The signer packet <code>${s.file}</code> could not be used: ${s.problem}</p></section>`;
  const matches = s.operationId.toLowerCase() === r.operationId.toLowerCase();
  return html`<section aria-labelledby="h-sim">${head}
<p>From the signer packet <code>${s.file}</code> (a fork of the chain at block ${s.forkBlock}; reproduce it with <code>gatehouse simulate</code>).${matches ? "" : html` <strong class="fail">It simulates operation <code>${plain(s.operationId)}</code>, not this one: do not rely on it.</strong>`}</p>
${s.findings.length > 0 ? html`<ul class="checks">${s.findings.map((f) => html`<li class="fail"><span class="mark">FINDING</span> <strong>${plain(f.kind)}</strong>: ${plain(f.message)}</li>`)}</ul>` : html`<p>No finding.</p>`}
<h3>Steps</h3><ul class="checks">${s.steps.map((st) => html`<li class="${st.ok ? "ok" : "fail"}"><span class="mark">${st.ok ? "ran" : "REVERTED"}</span> ${plain(st.name)} (gas ${plain(st.gasUsed)})${st.revert ? html`: ${plain(st.revert)}` : ""}</li>`)}</ul>
<h3>Permissions</h3>${s.permissions.length === 0 ? html`<p>No permission changes.</p>` : table(["What", "Before", "After"], s.permissions.map((p) => [p.what, p.before, p.after]))}
<h3>Storage</h3>${s.stateDiff.length === 0 ? html`<p>No storage changes.</p>` : table(["Account", "Slot", "Before", "After"], s.stateDiff.map((d) => [d.accountLabel, d.decoded?.map((x) => x.path).join(", ") || d.slot, d.decoded?.map((x) => x.before).join(", ") || d.before, d.decoded?.map((x) => x.after).join(", ") || d.after]))}
${s.unknownSlots > 0 ? html`<p><strong>${s.unknownSlots}</strong> written slot(s) could not be named.</p>` : ""}
<h3>Balances</h3>${s.balances.length === 0 ? html`<p>No balance changes.</p>` : table(["Account", "Before", "After", "Change"], s.balances.map((b) => [b.account, b.before, b.after, b.delta]))}
${s.probes.length > 0 ? html`<h3>Probes after the upgrade</h3><ul class="checks">${s.probes.map((p) => html`<li class="${p.ok ? "ok" : "fail"}"><span class="mark">${p.ok ? "holds" : "FAILS"}</span> ${plain(p.name)}: ${plain(p.detail)}</li>`)}</ul>` : ""}
${s.notes.length > 0 ? html`<ul>${s.notes.map((n) => html`<li>${plain(n)}</li>`)}</ul>` : ""}
</section>`;
}

function table(headers: string[], rows: unknown[][]): Html {
  return html`<div class="scroll"><table><thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows.map((row) => html`<tr>${row.map((cell, i) => html`<td data-label="${headers[i]}"><code>${plain(cell)}</code></td>`)}</tr>`)}</tbody></table></div>`;
}

function layoutSection(r: OperationReview): Html {
  const proxies = Object.keys(r.storageLayoutDiff);
  return html`<section aria-labelledby="h-layout"><h2 id="h-layout">Storage layout diff</h2>
${proxies.length === 0 ? html`<p>${r.proposal ? "No storage layout changes recorded." : "Unknown: no proposal record."}</p>` : ""}
${proxies.map((proxy) => {
  const rows = r.storageLayoutDiff[proxy]!;
  const changed = rows.filter((x) => x.status !== "kept").length;
  return html`<h3><span class="claim">${plain(proxy)}</span>: ${rows.length} variable${rows.length === 1 ? "" : "s"}, ${changed} changed</h3>${rows.length > 0 ? table(["Variable", "Type", "Slot", "Offset", "Status"], rows.map((x) => [x.label ?? "?", x.type ?? "?", x.slot ?? "", x.offset ?? "", x.status])) : ""}`;
})}
</section>`;
}

function sourceSection(e: SiteEntry, r: OperationReview): Html {
  const s = e.source;
  return html`<section aria-labelledby="h-source"><h2 id="h-source">Source</h2>
${r.proposal
  ? html`<ul>
<li>Proposal record <code>proposals/${r.network}/${plain(r.proposal.id)}.json</code>, staged <span class="claim">${plain(r.proposal.createdAt)}</span>; rollback operation <code>${r.proposal.rollbackOperationId}</code></li>
<li>Commit: ${s ? (s.commitUrl ? html`<a href="${s.commitUrl}"><code>${s.commit}</code></a>` : html`<code>${s.commit}</code>`) : r.proposal.commit ? html`<code>${plain(r.proposal.commit)}</code> (not a commit hash)` : "unknown (staged outside git)"}</li>
<li>Source diff: ${s?.previous ? (s.previous.url ? html`<a href="${s.previous.url}">compare <code>${s.previous.commit.slice(0, 12)}</code>…<code>${s.commit.slice(0, 12)}</code></a> (since proposal <code>${plain(s.previous.proposal)}</code>, the last executed upgrade of the same proxy)` : html`<code>git diff ${s.previous.commit}..${s.commit}</code> (since proposal <code>${plain(s.previous.proposal)}</code>)`) : "no earlier executed upgrade of the same proxy is in the ledger; compare with the deployment's commit"}</li>
</ul>`
  : html`<p><strong>No proposal record matches this operation id.</strong> There is no commit and no reviewed source.</p>`}
</section>`;
}

function safeSection(r: OperationReview): Html {
  const s = r.safeTransaction;
  return html`<section aria-labelledby="h-safe"><h2 id="h-safe">Safe transaction</h2>
${s
  ? html`<dl class="facts">
<dt>Safe</dt><dd><code>${s.safe}</code>${s.nonce !== undefined ? html` nonce ${s.nonce}` : ""}</dd>
<dt>safeTxHash</dt><dd><code class="wrap">${s.safeTxHash}</code>${s.matchesRecord === false ? html` <strong>not the one in the proposal record</strong>` : ""}</dd>
${s.domainHash ? html`<dt>Domain hash</dt><dd><code class="wrap">${s.domainHash}</code></dd>` : ""}
${s.messageHash ? html`<dt>Message hash</dt><dd><code class="wrap">${s.messageHash}</code></dd>` : ""}
<dt>Signers</dt><dd>${s.signers.length}${s.threshold ? html` of threshold ${s.threshold}` : ""}: ${s.signers.length === 0 ? "none recovered" : html`<ul>${s.signers.map((x) => html`<li><code>${x}</code></li>`)}</ul>`}</dd>
</dl>`
  : html`<p>Scheduled directly, not through the Gatehouse Safe${r.scheduled.from ? html` (sender <code>${r.scheduled.from}</code>)` : ""}.</p>`}
</section>`;
}

function historySection(r: OperationReview): Html {
  const row = (what: string, p: { block: number; txHash: string; from?: string | undefined } | undefined) =>
    p ? html`<li>${what} in block ${p.block}, transaction <code class="wrap">${p.txHash}</code>${p.from ? html` from <code>${p.from}</code>` : ""}</li>` : "";
  return html`<section aria-labelledby="h-history"><h2 id="h-history">History</h2>
<ul>
${(r.history ?? []).map((h, i) => html`<li>Earlier scheduling ${i + 1}: block ${h.scheduled.block}${h.cancelled ? html`, cancelled in block ${h.cancelled.block}` : h.executed ? html`, executed in block ${h.executed.block}` : ""}</li>`)}
${row("Scheduled", r.scheduled)}
${row("Executed", r.executed)}
${row("Cancelled", r.cancelled)}
</ul>
</section>`;
}

function alertBody(e: SiteEntry, a: EventAlert): Html {
  return html`<h1>${tagged(a.title)}</h1>
<section class="banner banner-alert" role="alert" aria-labelledby="h-alert"><h2 id="h-alert">${a.status === "retracted" ? "RETRACTED alert" : "ALERT"}: ${a.kind}</h2>
<p><strong>What happened:</strong> ${tagged(a.message)}</p>
<p><strong>What to do:</strong> ${tagged(a.remedy)}</p>
</section>
<dl class="facts">
<dt>State</dt><dd>${stateBadge(e)}</dd>
<dt>Network</dt><dd>${a.network} (chain ${a.chainId})</dd>
<dt>Contract</dt><dd>${tagged(a.contract)} <code>${a.event.address}</code></dd>
<dt>Event</dt><dd><code>${a.event.name}</code> ${Object.entries(a.event.args).map(([k, v]) => html`${plain(k)}=<code class="wrap">${plain(v)}</code> `)}</dd>
<dt>Block</dt><dd>${a.event.block} (<code class="wrap">${a.event.blockHash}</code>)</dd>
<dt>Transaction</dt><dd><code class="wrap">${a.event.txHash}</code>${a.from ? html` from <code>${a.from}</code>` : ""}</dd>
${a.viaOperation ? html`<dt>Through timelock operation</dt><dd><code>${a.viaOperation}</code></dd>` : ""}
</dl>`;
}

/** The root of a site with several networks (GitHub Pages: one folder per network). */
export function renderNetworksIndex(networks: string[], generatedAt: string): string {
  const body = html`<h1>Governance operations</h1>
<p>One review site per network the watcher follows: every queued operation with its ETA, verification and cancel path.</p>
<ul>${networks.map((n) => html`<li><a href="${n}/index.html">${n}</a> (<a href="${n}/feed.xml">Atom feed</a>)</li>`)}</ul>`;
  return layout({ title: "Gatehouse: governance operations", depth: 0, body, generatedAt, root: true });
}

// ---------------------------------------------------------------------------------------------------
// Feeds

/** Atom: one entry per state change, newest first, each linking to its page. */
export function renderFeed(model: SiteModel): string {
  const items = feedItems(model);
  const updated = items[0]?.updated ?? model.generatedAt;
  return toText(html`${trustedConstant("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n")}<feed xmlns="http://www.w3.org/2005/Atom">
<title>Gatehouse: ${model.network} governance operations</title>
<id>urn:gatehouse:${model.network}:operations</id>
<updated>${updated}</updated>
<link rel="alternate" href="index.html"/>
<generator>gatehouse site</generator>
${items.map((i) => html`<entry>
<id>urn:gatehouse:${model.network}:${i.id}</id>
<title>${plain(i.entry.title)}: ${i.change}</title>
<updated>${i.updated}</updated>
<link rel="alternate" href="${i.entry.page}"/>
<summary>${i.entry.verdict}${i.entry.eta !== undefined && i.entry.state === "scheduled" ? `. ETA ${isoUtc(i.entry.eta)}` : ""}</summary>
</entry>
`)}</feed>
`);
}

/** operations.json: the same entries as data (untrusted marks removed: a reader escapes data itself). */
export function operationsJson(model: SiteModel): unknown {
  return {
    network: model.network,
    generatedAt: model.generatedAt,
    operations: model.entries.map((e) =>
      untagData({
        key: e.key,
        kind: e.review ? "operation" : "alert",
        ...(e.review ? { operationId: e.review.operationId } : {}),
        urgency: e.urgency,
        state: e.state,
        severity: e.severity,
        title: e.title,
        verdict: e.verdict,
        ...(e.eta !== undefined ? { eta: e.eta, etaIso: isoUtc(e.eta) } : {}),
        alerts: e.review ? e.review.alerts.map((a) => a.kind) : e.alert ? [e.alert.kind] : [],
        page: e.page,
        ...(e.review && e.state === "scheduled" ? { cancel: { timelock: e.review.cancel.timelock, calldata: e.review.cancel.calldata, command: e.review.cancel.command, builderFile: e.builderFile } } : {}),
      }),
    ),
  };
}
