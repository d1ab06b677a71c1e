import { explainTransform, transformDomain, TransformExplanation } from '../../lib';
import type { Plan } from '../../lib';

/** True when `inner` can be read out of `outer` by deleting characters: the output only adds. */
export function isSubsequence(inner: string, outer: string): boolean {
  let j = 0;
  for (let i = 0; i < outer.length && j < inner.length; i++) if (outer[i] === inner[j]) j++;
  return j === inner.length;
}

/**
 * Every transform in the suite goes through here: the plan is not mutated, the input survives
 * byte for byte inside the output, and a second run changes nothing (magic-string's integrity-checking idea).
 */
export function checkedTransform(xml: string, plan: Plan): TransformExplanation {
  const planCopy = structuredClone(plan);
  const result = explainTransform(xml, plan);
  expect(plan).toEqual(planCopy);
  expect(transformDomain(xml, plan)).toBe(result.xml);
  if (!isSubsequence(xml, result.xml)) throw new Error('the output lost bytes of the input');
  expect(transformDomain(result.xml, plan)).toBe(result.xml);
  return result;
}
