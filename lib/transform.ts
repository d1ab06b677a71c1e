import { DomainFacts, readDomainFacts } from './domain/facts';
import { requireQ35 } from './domain/machine';
import { Change } from './edit/changes';
import { guessIndentUnit } from './edit/anchors';
import { planEdits } from './edit/plan-edits';
import { applyEdits } from './edit/splice';
import { LineTable } from './load/lines';
import { LoadOptions, loadDomainXml } from './load/load';
import { normalizePlan } from './plan/normalize';
import { checkQemuForGpudirect, overrideStyleFor, stackWarnings } from './plan/stack';
import { Plan } from './plan/types';
import { XmlStyle } from './render/style';

export type TransformOptions = LoadOptions;

export interface TransformExplanation {
  xml: string;
  changes: Change[];
  warnings: string[];
}

/**
 * Adds the planned PCI host devices (and GPUDirect clique overrides) to a libvirt domain.
 * Returns the new XML; throws PassthroughError on any problem. Only insertions: every byte
 * of the input is in the output, in order.
 */
export function transformDomain(xml: string, plan: Plan, options: TransformOptions = {}): string {
  return run(xml, plan, options, false).xml;
}

/** transformDomain plus what was added or found in place, with lines in the output, and warnings. */
export function explainTransform(xml: string, plan: Plan, options: TransformOptions = {}): TransformExplanation {
  return run(xml, plan, options, true);
}

/** explainTransform of a domain already read (the KubeVirt hook reads its hostdevs first): the text is parsed once. */
export function explainLoadedTransform(facts: DomainFacts, plan: Plan): TransformExplanation {
  return transformFacts(facts, plan, true, facts.doc.bom + facts.doc.body);
}

function run(xml: string, plan: Plan, options: TransformOptions, explain: boolean): TransformExplanation {
  return transformFacts(readDomainFacts(loadDomainXml(xml, options)), plan, explain, xml);
}

function transformFacts(facts: DomainFacts, plan: Plan, explain: boolean, xml: string): TransformExplanation {
  const doc = facts.doc;
  requireQ35(facts);
  const warnings: string[] = [];
  const hostdevs = normalizePlan(plan, warnings); // checks the layout too (plan/layout.ts)
  const target = plan.target ?? {};
  checkQemuForGpudirect(target, hostdevs);
  const needsClique = hostdevs.some((h) => h.gpudirect);
  const overrideStyle = needsClique ? overrideStyleFor(target) : 'override';
  if (explain) warnings.push(...stackWarnings(target, hostdevs)); // transformDomain returns only the XML: no messages to build
  const style: XmlStyle = { quote: facts.quote, newline: facts.newline, unit: guessIndentUnit(facts) };
  const edits = planEdits(facts, hostdevs, style, overrideStyle, plan.mmio, plan.layout);
  warnings.push(...edits.warnings);
  if (edits.edits.length === 0 && !explain) return { xml, changes: [], warnings };
  const spliced = applyEdits(doc.body, edits.edits);
  const output = doc.bom + spliced.text;
  if (!explain) return { xml: output, changes: [], warnings };
  const lines = new LineTable(spliced.text);
  const changes = edits.changes.map(({ change, edit, at }) =>
    edit === undefined ? change : { ...change, line: lines.positionOf(spliced.outputStarts[edit] + (at ?? 0)).line },
  );
  return { xml: output, changes, warnings };
}
