/** At most `limit` of `points`, evenly spaced over all of them and always with the newest: a long run's whole curve. */
export function thinned<T>(points: readonly T[], limit: number): T[] {
  if (points.length <= limit) return [...points]
  const stride = Math.ceil(points.length / limit)
  return points.filter((_, i) => (points.length - 1 - i) % stride === 0)
}
