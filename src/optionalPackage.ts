import { UsageError } from './errors.ts'

/**
 * Imports an optional dependency; when it is not installed, a UsageError that
 * names the package and how to install it.
 */
export async function importOptional<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (package|module)|Failed to (load|resolve)/i.test((error as Error).message)
    if (missing && (error as Error).message.includes(name)) {
      throw new UsageError(`${purpose} needs the package ${name}, which is not installed. Install it beside longhaul: npm install ${name}`, 'LONGHAUL_BAD_USAGE', { cause: error })
    }
    throw error
  }
}
