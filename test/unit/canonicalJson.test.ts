import { canonicalJson } from '../../src/crypto/canonicalJson';

test('canonical JSON sorts keys at every depth, drops whitespace and keeps values as JSON writes them', () => {
  const parsed = JSON.parse('{ "b": [3, {"z": 1, "a": "é\\n"}], "a": { "d": null, "c": true }, "n": 1.50, "big": 1e21 }');
  expect(canonicalJson(parsed)).toBe('{"a":{"c":true,"d":null},"b":[3,{"a":"é\\n","z":1}],"big":1e+21,"n":1.5}');
  // Keys compare by UTF-16 code units, as RFC 8785 says: "Z" < "a" < "é".
  expect(canonicalJson({ é: 1, a: 2, Z: 3 })).toBe('{"Z":3,"a":2,"é":1}');
});
