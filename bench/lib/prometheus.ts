/** Cumulative bucket counts of one Prometheus histogram series, by upper bound (seconds). */
export type Buckets = Map<number, number>;

/** Sums the `_bucket` lines of `name` whose labels include every `labels` pair (e.g. over results). */
export function histogramBuckets(text: string, name: string, labels: Record<string, string>): Buckets {
  const buckets: Buckets = new Map();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const labelText = line.slice(line.indexOf("{") + 1, line.lastIndexOf("}"));
    if (!Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) continue;
    const le = /le="([^"]+)"/.exec(labelText)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return buckets;
}

/** The bucket bound (ms) below which fraction `q` of the observations made between two scrapes fell. */
export function quantileBetween(before: Buckets, after: Buckets, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  if (total <= 0) return NaN;
  const bound = bounds.find((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total);
  return (bound ?? Infinity) * 1000;
}
