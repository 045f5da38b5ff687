import type { Config } from '../config/config.js';
import { CommandServiceManager } from './command.js';
import type { ServiceManager } from './manager.js';
import { SystemdServiceManager } from './systemd.js';

export type { ServiceManager, ServiceStatus, ServiceState, LogLine, CallOptions } from './manager.js';
export { CommandServiceManager } from './command.js';
export { SystemdServiceManager } from './systemd.js';

/** The service manager the config asks for. */
export function createServiceManager(config: Pick<Config, 'services' | 'serviceManager'>): ServiceManager {
  const sm = config.serviceManager;
  switch (sm.type) {
    case 'systemd':
      return new SystemdServiceManager({ services: config.services, timeoutSeconds: sm.timeoutSeconds });
    case 'command':
      return new CommandServiceManager({ services: config.services, commands: sm.commands, timeoutSeconds: sm.timeoutSeconds });
  }
}
