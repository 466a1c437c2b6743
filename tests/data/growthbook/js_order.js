// Regenerates tests/data/growthbook/js_order.json: how JavaScript orders JSON values (`<`, `<=`,
// `>`, `>=`), the semantics of GrowthBook's $lt, $lte, $gt and $gte in its reference SDK.
const values = [null, true, false, 0, -1, 1, 5, 8, 10, 1.5, -10, 1e21, 1e-7, "", "8", " 8 ",
  "\u00a08\n", "5", "10", "abc", "ABC", "0x1A", "0b11", "0o7", "Infinity", "-Infinity", "1e3",
  ".5", "5.", "1_0", "inf", "nan", "é", "😀", "\ue000", [], [5], ["a", null, 1], [[8]], {}, {"a": 1}];
const cases = [];
for (const a of values) for (const b of values) cases.push([a, b, [a < b, a <= b, a > b, a >= b]]);
process.stdout.write(JSON.stringify({values: values.length, cases}) + "\n");
