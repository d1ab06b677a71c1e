import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO } from './helpers/paths';

// No module of lib/ reaches itself through its imports (static imports, re-exports and lazy require() alike;
// `import type` is erased by the compiler and does not count). A cycle means one module's meaning depends on
// another that depends on it: read-config.ts and config-space.ts used to import each other.

const LIB = path.join(REPO, 'lib');

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? modules(full) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The lib/ modules `file` loads: `import … from './x'`, `export … from './x'`, `require('./x')`. */
export function importsOf(file: string, source: string): string[] {
  const specifiers = [
    ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm)].map((m) => m[1]),
    ...[...source.matchAll(/\brequire\(\s*['"](\.[^'"]+)['"]\s*\)/g)].map((m) => m[1]),
  ];
  return specifiers
    .map((s) => path.resolve(path.dirname(file), s))
    .map((p) => [`${p}.ts`, path.join(p, 'index.ts')].find((f) => fs.existsSync(f)))
    .filter((f): f is string => f !== undefined);
}

/** The first cycle found, as the chain of modules relative to lib/, or undefined. */
export function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle) return cycle.map((f) => path.relative(LIB, f));
  }
  return undefined;
}

test('the checker finds a cycle when there is one, and reads each import form', () => {
  const graph = new Map([[`${LIB}/a.ts`, [`${LIB}/b.ts`]], [`${LIB}/b.ts`, [`${LIB}/c.ts`]], [`${LIB}/c.ts`, [`${LIB}/a.ts`]]]);
  expect(findCycle(graph)).toEqual(['a.ts', 'b.ts', 'c.ts', 'a.ts']);
  graph.set(`${LIB}/c.ts`, []);
  expect(findCycle(graph)).toBeUndefined();
  const from = path.join(LIB, 'gpudirect', 'x.ts');
  const source = [
    "import { a } from './read-config';",
    "import type { B } from './config-space';",
    "export { c } from '../pci/address';",
    "export type { D } from './placement';",
    "import {\n  e,\n} from './verify';",
    "const f = () => require('./architecture');",
  ].join('\n');
  expect(importsOf(from, source).map((f) => path.relative(LIB, f))).toEqual([
    'gpudirect/read-config.ts', 'pci/address.ts', 'gpudirect/verify.ts', 'gpudirect/architecture.ts',
  ]);
});

test('no import cycle in lib/', () => {
  const graph = new Map(modules(LIB).map((f) => [f, importsOf(f, fs.readFileSync(f, 'utf8'))]));
  expect(graph.size).toBeGreaterThan(40);
  expect(findCycle(graph)).toBeUndefined();
});

// Modules that fit in one read (issue 20): no hand-written module of lib/ over 300 lines but the parser.
test('every hand-written lib/ module is at most 300 lines, the XML parser aside', () => {
  const long = modules(LIB)
    .filter((f) => !f.endsWith('.generated.ts') && path.relative(LIB, f) !== path.join('load', 'parse.ts'))
    .map((f) => [path.relative(LIB, f), fs.readFileSync(f, 'utf8').split('\n').length - 1] as const)
    .filter(([, lines]) => lines > 300);
  expect(long).toEqual([]);
});
