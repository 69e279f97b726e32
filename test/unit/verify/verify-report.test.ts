import { describe, expect, it } from 'vitest';
import { AuditSummary } from '../../../src/enrich/audit.ts';
import type { RecordingAudit, VerifyReport } from '../../../src/enrich/audit.ts';
import { renderHtml, renderSummary } from '../../../src/verify/verify-report.ts';

function audit(over: Partial<RecordingAudit>): RecordingAudit {
  return {
    manifestKey: 'o/c/r.opus_manifest.json',
    conversationId: 'c',
    recordingId: 'r',
    partitionHour: '2026-03-02T09:00:00.000Z',
    status: 'verified',
    completeness: 'complete',
    missing: [],
    legalHold: 'none',
    versions: 1,
    forked: false,
    findings: [],
    newest: null,
    ...over,
  };
}

function report(audits: RecordingAudit[]): VerifyReport {
  const s = new AuditSummary();
  for (const a of audits) s.add(a);
  return s.report({
    version: '1.2.3',
    generatedAt: '2026-03-03T00:00:00.000Z',
    scope: {
      bucket: 'b',
      prefix: '',
      manifestBucket: 'b',
      manifestPrefix: '',
      from: null,
      to: null,
      conversations: null,
      publicKeyIds: ['0123456789abcdef'],
      objectLock: true,
      expectManifestHold: true,
      pendingGraceMinutes: null,
    },
  });
}

const hostile = '<img src=x onerror=alert(1)>"\'&';

describe('renderHtml', () => {
  const r = report([
    audit({}),
    audit({
      recordingId: 'r2',
      partitionHour: '2026-03-04T10:00:00.000Z',
      status: 'failed',
      completeness: 'incomplete',
      missing: [{ field: 'webrtc.client_ip', reason: 'not captured' }],
      findings: [{ key: `k/${hostile}`, check: 'audio-sha256', detail: hostile }],
    }),
  ]);
  const html = renderHtml(r);

  it('is self-contained: no script, no external reference, loading forbidden by its CSP', () => {
    expect(html).not.toMatch(/<script|<link|@import|url\(/i);
    expect(html.match(/(?:src|href)="([^"]*)"/g) ?? []).toEqual([]);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  it('escapes every value from the bucket', () => {
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
  });

  it('shows the counts, one bar per kind and day, the reasons and the findings', () => {
    expect(html).toContain('<td data-count="recordings">2</td>');
    expect(html).toContain('<td data-count="failed">1</td>');
    expect(html.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(html).toContain('data-day="2026-03-04" data-kind="incomplete"');
    expect(html).toContain('webrtc.client_ip: not captured');
    expect(html.match(/<tr class="finding"/g)).toHaveLength(1);
    expect(html).toContain('class="verdict FAIL"');
  });

  it('lists each incomplete recording with what it lacks, in the JSON and the HTML report', () => {
    expect(r.incomplete).toEqual([
      {
        manifestKey: 'o/c/r.opus_manifest.json',
        conversationId: 'c',
        recordingId: 'r2',
        missing: ['webrtc.client_ip: not captured'],
      },
    ]);
    const rows = html.match(/<tr class="incomplete">.*<\/tr>/g) ?? [];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain('<code>r2</code>');
    expect(rows[0]).toContain('webrtc.client_ip: not captured');
    expect(renderHtml(report([audit({})]))).not.toContain('id="incomplete"');
  });

  it('says PASS and shows no findings table for a clean run', () => {
    const clean = renderHtml(report([audit({})]));
    expect(clean).toContain('class="verdict PASS"');
    expect(clean).toContain('id="no-findings"');
    expect(clean).not.toContain('<tr class="finding"');
  });
});

describe('renderSummary', () => {
  it('lists counts, findings (capped) and where the HTML report is', () => {
    const findings = Array.from({ length: 3 }, (_, i) => ({
      key: `k${i}`,
      check: 'manifest-missing' as const,
      detail: 'no manifest',
    }));
    const text = renderSummary(report([audit({ status: 'missing', completeness: null, findings })]), {
      maxFindings: 2,
      htmlPath: '/tmp/r.html',
    });
    expect(text).toContain('recordings 1: verified 0, failed 1 (no manifest 1)');
    expect(text).toContain('FAIL: 3 finding(s)');
    expect(text).toContain('[manifest-missing] k1: no manifest');
    expect(text).not.toContain('k2:');
    expect(text).toContain('... 1 more');
    expect(text.trimEnd().endsWith('HTML report: /tmp/r.html')).toBe(true);
    expect(text).not.toContain('each incomplete recording');
  });

  it('says where the incomplete recordings are listed when there are any', () => {
    const text = renderSummary(
      report([
        audit({ completeness: 'incomplete', missing: [{ field: 'webrtc', reason: 'no-session-tags' }] }),
      ]),
    );
    expect(text).toContain('  incomplete because webrtc: no-session-tags: 1\n');
    expect(text).toContain('(each incomplete recording, with what it lacks: the JSON or HTML report)');
  });
});
