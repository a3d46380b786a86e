// Reading the validator's TAP-like report.

export interface TapSummary {
  passed: number;
  failures: string[];
  planned: number | undefined;
}

export function parseTap(output: string): TapSummary {
  const lines = output.replace(/\r/g, '').split('\n');
  const failures = lines.filter((l) => l.startsWith('not ok '));
  const passed = lines.filter((l) => l.startsWith('ok ')).length;
  const plan = lines.map((l) => /^1\.\.(\d+)$/.exec(l)).find((m) => m);
  return { passed, failures, planned: plan?.[1] ? Number(plan[1]) : undefined };
}
