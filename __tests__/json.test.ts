import { parseJson } from '../lib/load/json';

// JSON syntax errors located at the first character that cannot continue JSON, with V8's reason minus its echo
// of the text; V8 gives no position for "Unexpected token" errors, and then the offset is searched for.
test.each([
  ['a key without quotes', '{gpus: 0}', "Expected property name or '}'", 1],
  ['a trailing comma in an object', '{"gpus": {"gpu1": 0,}}', 'Expected double-quoted property name (JSON allows no comma before })', 20],
  ['a trailing comma in an array (no position from V8)', '{\n  "gpus": [\n    1,\n  ]\n}', "Unexpected token ']' (JSON allows no comma before ])", 23],
  ['a bare word (no position from V8)', '{"gpus": x}', "Unexpected token 'x'", 9],
  ['a word cut short (no position from V8)', '{"a": tru}', "Unexpected token '}'", 9],
  ['text after the JSON', '{"a":1} x', 'Unexpected non-whitespace character after JSON', 8],
  ['a control character in a string', '{"a": "\u0001"}', 'Bad control character in string literal', 7],
  ['the end comes first', '{"gpus": {"gpu1": 0}', "Expected ',' or '}' after property value", 20],
  ['nothing at all', '', 'the text ends before the JSON does', 0],
  ['a long echo is never repeated', `[${'"x", '.repeat(50_000)}]`, "Unexpected token ']' (JSON allows no comma before ])", 250_001],
])('%s', (_name, text, reason, offset) => {
  expect(parseJson(text)).toEqual({ ok: false, reason, offset });
});

test('valid JSON is parsed as JSON.parse parses it', () => {
  expect(parseJson('{"gpus": {"gpu1": 0}}')).toEqual({ ok: true, value: { gpus: { gpu1: 0 } } });
});
