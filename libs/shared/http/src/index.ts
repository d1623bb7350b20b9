export * from './problem';
export * from './auth';
export * from './logger';
export * from './shutdown';
export * from './platform.plugin';
export * from './service-config';
export * from './http-server';
export * from './tracing';
