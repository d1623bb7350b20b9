export * from './admin';
export * from './data-source';
export * from './database-url';
export * from './embedded-postgres';
export * from './logger';
export * from './migrations';
export * from './provision';
export { repoRoot } from './repo-root';
export * from './sql';
