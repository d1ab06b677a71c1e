import * as fs from 'node:fs';
import * as path from 'node:path';
import { BootReport, judgeBoot, pipelineBootCase } from '../conformance/guest-boot';
import { BootedGuest, hgxSnapshot, pathTypeProblems, predictionProblems, runPipeline } from '../conformance/pipeline';
import { LayoutKind } from '../lib/layout/types';
import { NCCL_FIXTURES } from './helpers/nccl-trees';

// The guest oracle's reports of the HGX A100 host's three layouts (host plan → transform, booted by hand; see
// nccl-fixtures/SOURCES.md): the conformance run's path-type judge must pass mirror and refuse flat and numa.
const booted = (kind: LayoutKind): BootReport & BootedGuest =>
  JSON.parse(fs.readFileSync(path.join(NCCL_FIXTURES, `hgx-a100-${kind}.guest-boot.json`), 'utf8'));

const snapshot = hgxSnapshot();

describe('the end-to-end judge on booted HGX A100 guests (8 GPUs, 5 NICs: 28 GPU pairs, 40 GPU–NIC pairs)', () => {
  test('the fixtures are what the pipeline makes today: same stand-ins the domain names, nothing missing', () => {
    for (const kind of ['flat', 'numa', 'mirror'] as const) {
      const report = booted(kind);
      expect(report.missing).toEqual([]);
      expect(Object.keys(report.standIns).sort()).toEqual(runPipeline(kind, snapshot).plan.hostdevs.map((h) => `ua-${h.alias}`).sort());
    }
  });

  test('the pipeline writes byte for byte the layout-hgx-a100 fixture, whose boot it replaces in conformance', () => {
    const expected = fs.readFileSync(path.join(__dirname, 'cases', 'layout-hgx-a100', 'expected.xml'), 'utf8');
    expect(runPipeline('mirror', snapshot).xml).toBe(expected);
  });

  test('mirror: every pair has the host path type, every device its planned node', () => {
    const run = runPipeline('mirror', snapshot);
    expect(predictionProblems(run, snapshot)).toEqual([]);
    expect(pathTypeProblems(run, booted('mirror'))).toMatchObject({ problems: [], compared: 68 });
  });

  test.each([
    ['flat', /NCCL sees PHB in the guest, (PIX|PXB) on the host/],
    ['numa', /ua-gpu0–ua-gpu1: NCCL sees PHB in the guest, PXB on the host: NCCL does not use P2P in the guest, would on the host/],
  ] as const)('%s: judged as NOT keeping the host path types', (kind, problem) => {
    const { problems, compared } = pathTypeProblems(runPipeline(kind, snapshot), booted(kind));
    expect(compared).toBe(68);
    expect(problems.join('\n')).toMatch(problem);
  });

  test('the conformance boot judge passes the mirror report and fails the flat one booted in its place', () => {
    const c = pipelineBootCase();
    expect(judgeBoot(c, booted('mirror'))).toMatchObject({ status: 'pass' });
    // Same stand-ins, placed as the flat layout put them: wrong BDFs, no NUMA node, PHB everywhere.
    const flat = judgeBoot(c, booted('flat'));
    expect(flat.status).toBe('fail');
    expect(flat.reasons.join('\n')).toMatch(/ua-gpu0: guest has it at 0000:04:00.0, predicted 0000:f7:00.0/);
    expect(flat.reasons.join('\n')).toMatch(/NCCL sees PHB in the guest, PXB on the host/);
  });
});
