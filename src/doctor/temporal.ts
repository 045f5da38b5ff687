/** Temporal reachable at the configured address, with the configured namespace. */
import { isGrpcServiceError, type Client } from '@temporalio/client';
import { errorMessage, TemporalUnreachableError } from '../common/errors.js';
import type { Config } from '../config/config.js';
import { connectClient, connectionSettings } from '../temporal/connection.js';
import { fail, ok, type CheckResult } from './check.js';

/** gRPC's NOT_FOUND. */
const GRPC_NOT_FOUND = 5;
/** How long describing the namespace may take once connected. */
const DESCRIBE_TIMEOUT_MS = 15_000;

/**
 * Connects and describes the namespace. Returns the client (the caller closes
 * it) when Temporal answered, for the checks that ask it more.
 */
export async function checkTemporal(config: Config): Promise<{ result: CheckResult; client?: Client }> {
  const { namespace } = config.temporal;
  let address: string;
  try {
    address = connectionSettings(config.temporal).address;
  } catch (err) {
    // A TLS file that cannot be read.
    return { result: fail('temporal', `cannot read the TLS files of temporal.tls: ${errorMessage(err)}`, 'check the paths in temporal.tls (or TEMPORAL_TLS_*) and that this user can read them') };
  }
  let client: Client;
  try {
    client = await connectClient(config.temporal);
  } catch (err) {
    // The connection error's own hint speaks to a developer (`mcp-runbooks dev`); on a host the fix is the address or the network.
    const why = err instanceof TemporalUnreachableError ? errorMessage(err.cause) : errorMessage(err);
    return {
      result: fail('temporal', `cannot reach Temporal at ${address} (namespace ${namespace}): ${why}`, `start Temporal or correct temporal.address (TEMPORAL_ADDRESS overrides it), and let this host reach that port (firewall)`),
    };
  }
  try {
    const r = await client.connection.withDeadline(Date.now() + DESCRIBE_TIMEOUT_MS, () => client.workflowService.describeNamespace({ namespace }));
    const state = r.namespaceInfo?.state;
    const retention = r.config?.workflowExecutionRetentionTtl?.seconds;
    return {
      result: ok('temporal', `Temporal at ${address} answers; namespace ${namespace}${state === 1 ? '' : ` (state ${String(state)})`}${retention ? `, retention ${Math.round(Number(retention) / 86_400)} days` : ''}`),
      client,
    };
  } catch (err) {
    await client.connection.close().catch(() => undefined);
    if (isGrpcServiceError(err) && err.code === GRPC_NOT_FOUND) {
      return { result: fail('temporal', `Temporal at ${address} has no namespace ${namespace}`, `create it (\`temporal operator namespace create --namespace ${namespace}\`, or deploy/temporal/create-namespace.sh) or correct temporal.namespace`) };
    }
    return { result: fail('temporal', `Temporal at ${address} did not describe namespace ${namespace}: ${errorMessage(err)}`, 'check temporal.namespace, the API key or client certificate, and that the server is healthy') };
  }
}
