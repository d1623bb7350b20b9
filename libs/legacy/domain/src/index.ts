export * from './enums';
export * from './ids';
export * from './list-query';
export * from './resources';
export * from './roles';
export * from './validation';
