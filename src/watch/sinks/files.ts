import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { removeStaleTempFiles, writeFileAtomic } from "../../fs/atomic.ts";
import { escapeMarkdownLinkText, renderText, untagData } from "../../review/untrusted.ts";
import { fileKey, marker, type FoundPost, type Sink, type SinkPost } from "./sink.ts";

/**
 * Files in a folder: `<name>.md` (the review page) and `<name>.json` per post, rewritten in place on
 * every state change, and `index.md` listing every post (pending operations first). Each write is
 * atomic, so a reader never sees half a post; the temporary files of writes cut off by a crash (kill -9)
 * are removed when the sink starts. Pages are Markdown escaped as for GitHub; the JSON is data.
 */
export function filesSink(dir: string, opts: { id?: string; onWrite?: (post: SinkPost, file: string) => void; log?: (line: string) => void } = {}): Sink {
  const abs = path.resolve(dir);
  const removed = removeStaleTempFiles(abs);
  if (removed.length > 0) opts.log?.(`removed ${removed.length} temporary file(s) left in ${dir} by an interrupted write`);
  let changed = false;
  return {
    id: opts.id ?? `files:${dir}`,
    async publish(post) {
      const name = fileKey(post.key);
      const json = { ...untagData(post.json), key: post.key, state: post.state, severity: post.severity, title: renderText(post.title, "raw"), summary: renderText(post.summary, "raw"), contentHash: post.contentHash };
      // The page first, the JSON last: `find` reads the JSON, so it never reports a page not yet written.
      writeFileAtomic(path.join(abs, `${name}.md`), `${marker(post)}\n${renderText(post.markdown, "markdown")}`);
      writeFileAtomic(path.join(abs, `${name}.json`), JSON.stringify(json, null, 2) + "\n");
      opts.onWrite?.(post, path.join(abs, `${name}.md`));
      changed = true;
      return { remoteId: name };
    },
    async flush() {
      if (!changed) return;
      changed = false;
      writeFileAtomic(path.join(abs, "index.md"), indexMarkdown(abs));
    },
    async find(key): Promise<FoundPost | undefined> {
      const file = path.join(abs, `${fileKey(key)}.json`);
      if (!existsSync(file)) return undefined;
      try {
        const j = JSON.parse(readFileSync(file, "utf8")) as { key?: string; state?: string; contentHash?: string };
        if (j.key !== key) return undefined;
        return { remoteId: fileKey(key), ...(j.state ? { state: j.state } : {}), ...(j.contentHash ? { contentHash: j.contentHash } : {}) };
      } catch {
        return undefined;
      }
    },
  };
}

interface IndexEntry {
  name: string;
  title: string;
  state: string;
  severity: string;
  eta?: { iso: string };
  scheduled?: { block: number };
  executed?: { block: number };
  cancelled?: { block: number };
  event?: { block: number };
}

const ORDER: Record<string, number> = { scheduled: 0, alert: 1, executed: 2, cancelled: 3, retracted: 4, resolved: 5 };

/** The folder's review page: one row per post, alerts and pending operations first. */
export function indexMarkdown(abs: string): string {
  const entries: IndexEntry[] = [];
  for (const f of readdirSync(abs).filter((x) => x.endsWith(".json")).sort()) {
    try {
      const j = JSON.parse(readFileSync(path.join(abs, f), "utf8")) as Omit<IndexEntry, "name">;
      entries.push({ ...j, name: f.slice(0, -5) });
    } catch {
      // a file being replaced; the next flush lists it
    }
  }
  const rank = (e: IndexEntry) => (e.severity === "alert" && e.state !== "retracted" && e.state !== "resolved" ? -1 : 0) * 10 + (ORDER[e.state] ?? 5);
  entries.sort((a, b) => rank(a) - rank(b) || (b.scheduled?.block ?? b.event?.block ?? 0) - (a.scheduled?.block ?? a.event?.block ?? 0));
  // Block: where the post's latest state happened (executed, cancelled, scheduled, or the alert's event).
  const lines = ["# Gatehouse: queued operations and alerts", "", "| State | Severity | Post | ETA | Block |", "| --- | --- | --- | --- | --- |"];
  for (const e of entries) {
    const block = (e.state === "executed" ? e.executed?.block : e.state === "cancelled" ? e.cancelled?.block : undefined) ?? e.scheduled?.block ?? e.event?.block ?? "";
    // The title is plain text (names in it are claims): escaped whole, it cannot link, ping or break the table.
    lines.push(`| ${e.state} | ${e.severity === "alert" ? "**alert**" : e.severity} | [${escapeMarkdownLinkText(e.title)}](${e.name}.md) | ${e.eta?.iso ?? ""} | ${block} |`);
  }
  return lines.join("\n") + "\n";
}
