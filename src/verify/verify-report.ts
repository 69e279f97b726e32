/**
 * The two human renderings of a {@link VerifyReport}: the terminal summary and the self-contained HTML report a
 * legal team opens offline (inline CSS and SVG, no script, no external asset; its Content-Security-Policy
 * forbids loading anything). Pure string building; every value from the bucket is escaped.
 */
import type { AuditCounts, FindingCheck, VerifyReport } from '../enrich/audit.ts';

const CHECK_TITLES: Record<FindingCheck, string> = {
  'manifest-missing': 'Recording without a manifest',
  'manifest-deleted': 'Manifest deleted',
  'manifest-invalid': 'Manifest does not verify (schema, hash, signature, timeline)',
  chain: 'Hash chain broken',
  fork: 'Chain forks (two versions with one number)',
  'audio-sha256': 'Audio does not match its recorded SHA-256',
  'metadata-sha256': 'Genesys metadata does not match its recorded SHA-256',
  'object-missing': 'Object named by the manifest is gone',
  'object-version': 'Object replaced by a newer version',
  'legal-hold': 'Legal hold does not match the manifest',
  'recording-mismatch': 'Manifest belongs to another recording',
};

/** The terminal summary (a few lines, then up to `maxFindings` findings). */
export function renderSummary(
  report: VerifyReport,
  opts: { maxFindings?: number; htmlPath?: string } = {},
): string {
  const c = report.counts;
  const s = report.scope;
  const range =
    s.conversations !== null
      ? `${s.conversations.length} conversation(s)`
      : `${s.from ?? 'the beginning'} to ${s.to ?? 'now'}`;
  const lines = [
    `custody verify: s3://${s.bucket}/${s.prefix}, ${range}`,
    `  recordings ${c.recordings}: verified ${c.verified}, failed ${c.failed} (no manifest ${c.missingManifest})` +
      (s.pendingGraceMinutes !== null
        ? `, pending ${c.pending} (exported in the last ${s.pendingGraceMinutes} min, no manifest yet)`
        : ''),
    `  manifests: complete ${c.complete}, incomplete ${c.incomplete}; ${c.manifestVersions} versions checked`,
    `  public keys: ${s.publicKeyIds.join(', ') || '(none)'}; Object Lock ${s.objectLock ? 'on' : 'off'}`,
  ];
  for (const [reason, n] of Object.entries(report.incompleteReasons).slice(0, 5))
    lines.push(`  incomplete because ${reason}: ${n}`);
  if (report.incomplete.length > 0)
    lines.push('  (each incomplete recording, with what it lacks: the JSON or HTML report)');
  if (report.findings.length > 0) {
    lines.push(`FAIL: ${report.findings.length} finding(s)`);
    const max = opts.maxFindings ?? 20;
    for (const f of report.findings.slice(0, max)) lines.push(`  [${f.check}] ${f.key}: ${f.detail}`);
    if (report.findings.length > max)
      lines.push(`  ... ${report.findings.length - max} more (see the JSON or HTML report)`);
  } else {
    lines.push('PASS: no findings');
  }
  if (opts.htmlPath) lines.push(`HTML report: ${opts.htmlPath}`);
  return `${lines.join('\n')}\n`;
}

const escapeHtml = (v: unknown): string =>
  String(v).replace(
    /[&<>"']/g,
    (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string,
  );

/** A stacked bar per day: complete, incomplete and without manifest; failed recordings marked above. */
function completenessChart(days: VerifyReport['byDay']): string {
  if (days.length === 0) return '<p>No recordings in scope.</p>';
  const barW = Math.max(8, Math.min(48, Math.floor(720 / days.length) - 4));
  const gap = 4;
  const h = 200;
  const left = 40;
  const top = 20;
  const width = left + days.length * (barW + gap) + 20;
  const max = Math.max(...days.map((d) => d.recordings), 1);
  const y = (n: number) => (n / max) * h;
  const parts: string[] = [];
  parts.push(
    `<line x1="${left}" y1="${top + h}" x2="${width - 10}" y2="${top + h}" stroke="#444"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" font-size="11">${max}</text>`,
    `<text x="${left - 6}" y="${top + h}" text-anchor="end" font-size="11">0</text>`,
  );
  days.forEach((d, i) => {
    const x = left + i * (barW + gap);
    let base = top + h;
    const segments: Array<[number, string, string]> = [
      [d.complete, '#2e7d32', 'complete'],
      [d.incomplete, '#f9a825', 'incomplete'],
      [d.missingManifest, '#c62828', 'no manifest'],
    ];
    for (const [n, color, label] of segments) {
      if (n === 0) continue;
      const hh = y(n);
      base -= hh;
      parts.push(
        `<rect class="bar" data-day="${escapeHtml(d.day)}" data-kind="${label}" x="${x}" y="${base.toFixed(1)}" width="${barW}" height="${hh.toFixed(1)}" fill="${color}"><title>${escapeHtml(d.day)}: ${n} ${label}</title></rect>`,
      );
    }
    if (d.failed > 0)
      parts.push(
        `<text x="${x + barW / 2}" y="${(base - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#c62828">${d.failed}✗</text>`,
      );
    if (days.length <= 31 || i % Math.ceil(days.length / 31) === 0)
      parts.push(
        `<text x="${x + barW / 2}" y="${top + h + 14}" text-anchor="end" font-size="10" transform="rotate(-45 ${x + barW / 2} ${top + h + 14})">${escapeHtml(d.day.slice(5))}</text>`,
      );
  });
  return `<svg id="completeness-chart" role="img" aria-label="Completeness by day" width="${width}" height="${top + h + 50}" viewBox="0 0 ${width} ${top + h + 50}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>
<p class="legend"><span style="color:#2e7d32">■</span> complete <span style="color:#f9a825">■</span> incomplete (says why) <span style="color:#c62828">■</span> no manifest; a number with ✗ above a bar counts recordings with findings.</p>`;
}

function countRows(c: AuditCounts & { manifestVersions?: number; findings?: number }): string {
  const rows: Array<[string, string, number]> = [
    ['recordings', 'Exported recordings in scope', c.recordings],
    ['verified', 'Verified, no finding', c.verified],
    ['failed', 'With findings', c.failed],
    ['missing-manifest', 'Without a manifest', c.missingManifest],
    ['pending', 'Pending: exported within the grace, no manifest yet', c.pending],
    ['complete', 'Manifest complete', c.complete],
    ['incomplete', 'Manifest incomplete (says why)', c.incomplete],
  ];
  if (c.manifestVersions !== undefined)
    rows.push(['manifest-versions', 'Manifest versions checked', c.manifestVersions]);
  if (c.findings !== undefined) rows.push(['findings', 'Findings', c.findings]);
  return rows
    .map(([id, label, n]) => `<tr><th scope="row">${label}</th><td data-count="${id}">${n}</td></tr>`)
    .join('\n');
}

/** Incomplete recordings the HTML report lists; the JSON report lists every one. */
const MAX_HTML_INCOMPLETE = 1_000;

/** The self-contained HTML report. */
export function renderHtml(report: VerifyReport): string {
  const s = report.scope;
  const verdict = report.ok ? 'PASS' : 'FAIL';
  const findings = report.findings
    .map(
      (f) =>
        `<tr class="finding" data-check="${escapeHtml(f.check)}"><td>${escapeHtml(CHECK_TITLES[f.check])}</td><td class="key"><code>${escapeHtml(f.key)}</code></td><td><code>${escapeHtml(f.conversationId)}</code><br><code>${escapeHtml(f.recordingId)}</code></td><td>${escapeHtml(f.detail)}</td></tr>`,
    )
    .join('\n');
  const incomplete = report.incomplete
    .slice(0, MAX_HTML_INCOMPLETE)
    .map(
      (r) =>
        `<tr class="incomplete"><td class="key"><code>${escapeHtml(r.manifestKey)}</code></td><td><code>${escapeHtml(r.conversationId)}</code><br><code>${escapeHtml(r.recordingId)}</code></td><td>${r.missing.map(escapeHtml).join('<br>')}</td></tr>`,
    )
    .join('\n');
  const incompleteMore =
    report.incomplete.length > MAX_HTML_INCOMPLETE
      ? `<p>… and ${report.incomplete.length - MAX_HTML_INCOMPLETE} more in the JSON report (<code>--json</code>).</p>`
      : '';
  const reasons = Object.entries(report.incompleteReasons)
    .map(([r, n]) => `<tr><td>${escapeHtml(r)}</td><td>${n}</td></tr>`)
    .join('\n');
  const byCheck = Object.entries(report.findingsByCheck)
    .map(
      ([k, n]) =>
        `<tr><td>${escapeHtml(CHECK_TITLES[k as FindingCheck] ?? k)}</td><td data-check-count="${escapeHtml(k)}">${n}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>custody verify: ${verdict} — ${escapeHtml(s.bucket)}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#222;max-width:80rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
td[data-count]{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:.2rem .8rem;border-radius:.3rem;color:#fff;font-weight:bold}
.PASS{background:#2e7d32}.FAIL{background:#c62828}
code{font-size:.85em;word-break:break-all}.legend{font-size:.85rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:bold}dd{margin:0}
</style>
</head>
<body>
<h1>Chain-of-custody verification <span id="verdict" class="verdict ${verdict}">${verdict}</span></h1>
<dl>
<dt>Bucket</dt><dd><code>s3://${escapeHtml(s.bucket)}/${escapeHtml(s.prefix)}</code></dd>
<dt>Manifests</dt><dd><code>s3://${escapeHtml(s.manifestBucket)}/${escapeHtml(s.manifestPrefix)}</code></dd>
<dt>Scope</dt><dd>${s.conversations !== null ? `${s.conversations.length} conversation(s): ${s.conversations.map((c) => `<code>${escapeHtml(c)}</code>`).join(', ')}` : `conversations started from ${escapeHtml(s.from ?? 'the beginning')} to ${escapeHtml(s.to ?? 'now')}`}</dd>
<dt>Public keys</dt><dd>${s.publicKeyIds.map((k) => `<code>${escapeHtml(k)}</code>`).join(', ') || '(none)'}</dd>
<dt>Object Lock</dt><dd>${s.objectLock ? 'enabled' : 'not enabled'}${s.expectManifestHold ? '; every manifest version must be under legal hold' : ''}</dd>
${s.pendingGraceMinutes !== null ? `<dt>Pending grace</dt><dd>a recording exported in the last ${s.pendingGraceMinutes} min without a manifest yet is counted pending, not a finding</dd>` : ''}
<dt>Generated</dt><dd>${escapeHtml(report.generatedAt)} by custody ${escapeHtml(report.version)}</dd>
</dl>
<p>Checks: every exported recording has a manifest; every manifest version matches schema v1, is canonical, hashes to its integrity hash and verifies with the public keys above; the versions form an unbroken hash chain from version 1; the audio and metadata objects hash now to what the newest manifest records; legal holds match the manifest and the configuration.</p>
<h2>Counts</h2>
<table id="counts">
${countRows(report.counts)}
</table>
<h2>Completeness over time</h2>
${completenessChart(report.byDay)}
${reasons ? `<h2>Why manifests are incomplete</h2>\n<table id="incomplete-reasons"><tr><th>Missing field: reason</th><th>Recordings</th></tr>\n${reasons}\n</table>` : ''}
${incomplete ? `<h2>Incomplete manifests (${report.incomplete.length})</h2>\n<table id="incomplete"><tr><th>Manifest key</th><th>Conversation / recording</th><th>Missing field: reason</th></tr>\n${incomplete}\n</table>\n${incompleteMore}` : ''}
<h2>Findings (${report.findings.length})</h2>
${byCheck ? `<table id="findings-by-check"><tr><th>Check</th><th>Findings</th></tr>\n${byCheck}\n</table>` : ''}
${report.findings.length === 0 ? '<p id="no-findings">No findings: every check passed.</p>' : `<table id="findings"><tr><th>Check</th><th>Object key</th><th>Conversation / recording</th><th>Detail</th></tr>\n${findings}\n</table>`}
</body>
</html>
`;
}
