import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { unifiedDiff } from '../lib/libvirt/diff';
import { droppedFacts } from '../lib/libvirt/kept';
import { REPO } from './helpers/paths';

// The parts of `apply` that need no libvirt: the dry run's unified diff and the read-back check's facts.
// (apply.test.ts runs the rest against real libvirt.)
describe('the read-back check (the conformance harness facts, on the library parser)', () => {
  const written = fs.readFileSync(path.join(REPO, '__tests__', 'cases', 'spec-2gpu-k80', 'expected.xml'), 'utf8');
  test.each([
    ['nothing dropped', written, []],
    ['an override dropped', written.replace(/<qemu:override>[\s\S]*<\/qemu:override>/, ''), ['override ua-gpu0 x-nv-gpudirect-clique=0 (unsigned)', 'override ua-gpu1 x-nv-gpudirect-clique=0 (unsigned)']],
    ['an alias dropped, its override orphaned', written.replace("<alias name='ua-gpu1'/>", ''), ['alias ua-gpu1', 'override ua-gpu1 matches no device alias']],
    ['a hostdev dropped', written.replace(/<hostdev(?:(?!<\/hostdev>)[\s\S])*bus='0x05'[\s\S]*?<\/hostdev>/, ''), ['hostdev 0000:05:00.0', 'alias ua-gpu1', 'override ua-gpu1 matches no device alias']],
  ])('%s', (_name, dumped, dropped) => {
    expect(droppedFacts(written, dumped)).toEqual(dropped);
  });
});

describe('unifiedDiff', () => {
  test.each([
    ['equal', 'a\nb\n', 'a\nb\n', ''],
    ['one line changed', 'a\nb\nc\n', 'a\nx\nc\n', '--- A\n+++ B\n@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n'],
    ['insert into empty', '', 'a\n', '--- A\n+++ B\n@@ -0,0 +1 @@\n+a\n'],
    ['no final newline', 'a\nb', 'a\nc', '--- A\n+++ B\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n'],
    ['two hunks', 'a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n', 'A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n', '--- A\n+++ B\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n'],
  ])('%s', (_name, a, b, expected) => {
    expect(unifiedDiff(a, b, 'A', 'B')).toBe(expected);
  });

  test('git apply turns the first text into the second (random line sequences, fixed seed)', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-diff-'));
    let seed = 42;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n);
    const text = () => Array.from({ length: rand(14) }, () => 'abcd'[rand(4)]).join('\n') + (rand(2) ? '\n' : '');
    for (let i = 0; i < 60; i++) {
      const [a, b] = [text(), text()];
      const patch = unifiedDiff(a, b, 'f', 'f', rand(4));
      if (a === b) continue;
      fs.writeFileSync(path.join(work, 'f'), a);
      fs.writeFileSync(path.join(work, 'p'), patch);
      execFileSync('git', ['apply', '-p0', '--unidiff-zero', 'p'], { cwd: work });
      expect([a, fs.readFileSync(path.join(work, 'f'), 'utf8')]).toEqual([a, b]);
    }
    fs.rmSync(work, { recursive: true });
  });
});
