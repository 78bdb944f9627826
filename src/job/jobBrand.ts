/** Marks what defineJob and defineLoop return, and which of the two it is (`'map'` or `'loop'`). */
export const JOB_BRAND = Symbol.for('longhaul.job')
