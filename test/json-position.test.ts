/** jsonErrorPosition: the line and column of the first JSON syntax error, and agreement with JSON.parse. */
import { jsonErrorPosition } from '../src/config/json-position';

describe('valid JSON gives undefined', () => {
  test.each([
    '{}',
    '[]',
    '  {"a": 1, "b": [true, false, null], "c": {"d": "e"}}  \n',
    '"text"',
    '-0.5e+10',
    '0',
    '{"path": "C:\\\\data\\\\prod.duckdb", "u": "\\u00e9\\n\\t\\"\\/"}',
    '{\r\n  "keep": 3\r\n}\r\n',
    '[1, -2, 3.25, 4E2, 5e-1]',
  ])('%j', (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(jsonErrorPosition(text)).toBeUndefined();
  });
});

describe('the position of the first error', () => {
  test.each([
    ['missing comma between members', '{\n  "keep": 3\n  "backupDir": "b"\n}', 3, 3],
    ['trailing comma', '{"keep": 3,}', 1, 12],
    ['trailing comma on its own line', '{\n  "a": [1, 2,\n  ]\n}', 3, 3],
    ['missing colon', '{"keep" 3}', 1, 9],
    ['single-quoted key', "{'keep': 3}", 1, 2],
    ['unquoted key', '{\n  keep: 3\n}', 2, 3],
    ['unterminated string', '{"a": "b', 1, 9],
    ['raw newline in a string', '{"a": "b\nc"}', 1, 9],
    ['invalid escape \\d', '{"path": "C:\\data"}', 1, 13],
    ['short \\u escape', '["\\u12"]', 1, 3],
    ['leading zero', '[01]', 1, 3],
    ['bare minus', '[-]', 1, 2],
    ['comment', '{\n  // note\n  "a": 1\n}', 2, 3],
    ['truncated object', '{"a": {"b": 1}', 1, 15],
    ['garbage after the value', '{"a": 1} x', 1, 10],
    ['empty text', '', 1, 1],
    ['misspelled literal', '{"a": tru}', 1, 10],
    ['CRLF line endings', '{\r\n  "a": 1\r\n  "b": 2\r\n}', 3, 3],
  ])('%s', (_name, text, line, column) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    const pos = jsonErrorPosition(text);
    expect(pos).toBeDefined();
    expect({ line: pos!.line, column: pos!.column }).toEqual({ line, column });
    // offset, line and column describe the same place
    const lines = text.slice(0, pos!.offset).split('\n');
    expect(lines.length).toBe(line);
    expect(lines[lines.length - 1]!.length + 1).toBe(column);
  });
});

test('agrees with JSON.parse on many mutated config texts', () => {
  const base = JSON.stringify(
    { backupDir: 'backups', keep: 30, targets: { production: { path: 'data/p.duckdb', requiredTables: ['a', 'b'] } }, http: { host: '127.0.0.1', port: 9977 }, alerts: { webhook: null, ok: true } },
    null,
    2,
  );
  const alphabet = ['{', '}', '[', ']', ',', ':', '"', '\\', 'a', '1', '-', '.', 'e', ' ', '\n', 't', 'n', 'u', '0', '\t'];
  // a fixed-seed generator keeps a failure reproducible
  let seed = 12345;
  const rand = (k: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % k;
  };
  let disagreements: string[] = [];
  let invalid = 0;
  for (let i = 0; i < 3000; i++) {
    const at = rand(base.length);
    const op = rand(3);
    const ch = alphabet[rand(alphabet.length)]!;
    const text = op === 0 ? base.slice(0, at) + base.slice(at + 1) : op === 1 ? base.slice(0, at) + ch + base.slice(at) : base.slice(0, at) + ch + base.slice(at + 1);
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
      invalid++;
    }
    const pos = jsonErrorPosition(text);
    if (parses !== (pos === undefined)) disagreements.push(text);
  }
  disagreements = disagreements.slice(0, 3);
  expect(disagreements).toEqual([]);
  expect(invalid).toBeGreaterThan(1000);
});
