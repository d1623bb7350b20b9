/** @carve/gateway: the strangler gateway. Run it with `npm start -w @carve/gateway` or `carve gateway`. */
export { startGateway, type RunningGateway } from './gateway';
export { gatewayConfigFromEnv, gatewayEnvSchema, withDefaults, DEV_ROUTES_FILE, type GatewayConfig, type GatewayConfigInput } from './config';
export { RouteFileInvalidError } from './route-table/route-file';
