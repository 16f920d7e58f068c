/**
 * Pure rendering of benchmark results: a table is a title, columns and rows of already-formatted cells,
 * printed with every column padded to its widest cell. No chain, no I/O.
 */

export interface Column {
  header: string;
  /** Numbers read best right-aligned; text left-aligned (the default). */
  align?: "left" | "right";
}

export interface Table {
  title: string;
  columns: Column[];
  rows: string[][];
  /** Lines printed under the table (what was measured, how). */
  notes?: string[];
}

export function renderTable(table: Table): string {
  const { columns, rows } = table;
  for (const [i, row] of rows.entries()) {
    if (row.length !== columns.length) throw new Error(`table "${table.title}": row ${i} has ${row.length} cells for ${columns.length} columns`);
  }
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r[i]!.length)));
  const pad = (text: string, i: number, align: Column["align"]) => (align === "right" ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: string[], aligned: boolean) =>
    cells
      .map((cell, i) => pad(cell, i, aligned ? columns[i]!.align : "left"))
      .join(" | ")
      .trimEnd();
  const out = [table.title, line(columns.map((c) => c.header), false), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map((r) => line(r, true))];
  for (const note of table.notes ?? []) out.push(note);
  return out.join("\n");
}

/** 1234567n -> "1,234,567". */
export function formatGas(gas: bigint): string {
  const sign = gas < 0n ? "-" : "";
  const digits = (gas < 0n ? -gas : gas).toString();
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** What the measured value saves against the baseline, in gas and as a share of the baseline. */
export function formatSaving(measured: bigint, baseline: bigint): string {
  const saved = baseline - measured;
  if (baseline === 0n) return formatGas(saved);
  // One decimal, computed in integers so the output does not depend on float rounding.
  const permille = (saved * 1000n) / baseline;
  const abs = permille < 0n ? -permille : permille;
  return `${formatGas(saved)} (${permille < 0n ? "-" : ""}${abs / 10n}.${abs % 10n}%)`;
}

/** "1 vs 20". */
export function versus(a: number | bigint | string, b: number | bigint | string): string {
  const f = (v: number | bigint | string) => (typeof v === "bigint" ? formatGas(v) : String(v));
  return `${f(a)} vs ${f(b)}`;
}
