/** Timing helpers shared by the benchmarks. */

/** Milliseconds per operation of `fn`, after a warm-up, over at least `minMillis` of work. */
export const msPerOp = (fn: () => unknown, options: { readonly warmup?: number; readonly minMillis?: number } = {}) => {
  const warmup = options.warmup ?? 20
  for (let i = 0; i < warmup; i++) fn()
  const minMillis = options.minMillis ?? 500
  let iterations = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < minMillis) {
    fn()
    iterations++
    elapsed = performance.now() - start
  }
  return elapsed / iterations
}

/** Same as `msPerOp` for async work. */
export const msPerOpAsync = async (
  fn: () => Promise<unknown>,
  options: { readonly warmup?: number; readonly minMillis?: number } = {}
) => {
  const warmup = options.warmup ?? 5
  for (let i = 0; i < warmup; i++) await fn()
  const minMillis = options.minMillis ?? 500
  let iterations = 0
  const start = performance.now()
  let elapsed = 0
  while (elapsed < minMillis) {
    await fn()
    iterations++
    elapsed = performance.now() - start
  }
  return elapsed / iterations
}

export const fmt = (ms: number) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(3))
