export { seedBulk, type SeedBulkOptions, type SeedBulkResult, type SeedProgress } from './bulk';
export { DEMO_IDS, demoId, type DemoSummary, seedDemo } from './demo';
