/** The memory service's HTTP API (`GET /get_stats`, `/consolidate`), with timeouts. */

export interface MemoryStats {
  size: number;
  operations: number;
  errors: number;
  uptime: number;
}

export class MemoryServiceError extends Error {
  override readonly name = 'MemoryServiceError';
}

async function getJson(url: string, timeoutMs: number, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, ...) is in its cause.
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    const why =
      err instanceof Error && err.name === 'TimeoutError'
        ? `no answer within ${timeoutMs / 1000}s`
        : `${(err as Error).message}${typeof code === 'string' ? ` (${code})` : ''}`;
    throw new MemoryServiceError(`${url}: ${why}`, { cause: err });
  }
  if (!res.ok) throw new MemoryServiceError(`${url}: HTTP ${res.status}`);
  try {
    return await res.json();
  } catch (err) {
    throw new MemoryServiceError(`${url}: the answer is not JSON`, { cause: err });
  }
}

/** `GET /get_stats`: numbers default to 0 when absent, as the seed's `jq '.size // 0'` did. */
export async function getMemoryStats(baseUrl: string, timeoutMs: number): Promise<MemoryStats> {
  const body = (await getJson(new URL('/get_stats', baseUrl).toString(), timeoutMs)) as Record<string, unknown>;
  const num = (k: string) => (typeof body[k] === 'number' ? body[k] : 0);
  return { size: num('size'), operations: num('operations'), errors: num('errors'), uptime: num('uptime') };
}

/** `POST /consolidate` (the seed used GET; the sandbox accepts both). */
export async function consolidateMemory(baseUrl: string, timeoutMs: number): Promise<unknown> {
  return getJson(new URL('/consolidate', baseUrl).toString(), timeoutMs, { method: 'POST' });
}
