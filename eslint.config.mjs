// One ESLint config for the whole workspace. The module-boundary rule below is the
// architecture in code: see docs/architecture.md ("Dependency direction").
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

// Frameworks and drivers that domain code may never import.
const FRAMEWORKS = [
  '@nestjs/*', 'fastify', '@fastify/*', 'fastify-plugin', 'typeorm', '@nestjs/typeorm',
  'pg', 'pg-copy-streams', 'kafkajs', 'pino', 'prom-client',
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/tmp/**', '**/.carve/**', '**/coverage/**', 'charts/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          checkDynamicDependenciesExceptions: [],
          depConstraints: [
            // Shared platform pieces depend only on each other.
            { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
            // The monolith: its own code, the platform, and other contexts' public contracts.
            { sourceTag: 'scope:legacy', onlyDependOnLibsWithTags: ['scope:legacy', 'scope:shared', 'type:contracts'] },
            // The gateway: its own code, the platform, and contracts.
            { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:gateway', 'scope:shared', 'type:contracts'] },
            // Every carved context: itself, the platform, and others' contracts only.
            { sourceTag: 'scope:insights', onlyDependOnLibsWithTags: ['scope:insights', 'scope:shared', 'type:contracts'] },
            { sourceTag: 'scope:roadmaps', onlyDependOnLibsWithTags: ['scope:roadmaps', 'scope:shared', 'type:contracts'] },
            // The CLI and the benchmarks orchestrate every context: any scope, but never an app.
            { sourceTag: 'scope:tooling', onlyDependOnLibsWithTags: ['*'] },
            // The web console: browser code that imports nothing of the workspace; its browser test
            // starts the whole stack (seed, migrations, processes), like the CLI's.
            { sourceTag: 'scope:console', onlyDependOnLibsWithTags: ['*'] },
            // Nothing imports an app.
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:data-access', 'type:util'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:data-access', 'type:util', 'type:tool'] },
            { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts', 'type:data-access', 'type:util'] },
            { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', 'type:contracts'] },
            // Domain and contracts are pure: no frameworks, no drivers.
            { sourceTag: 'type:domain', onlyDependOnLibsWithTags: ['type:domain', 'type:contracts'], bannedExternalImports: FRAMEWORKS },
            { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts'], bannedExternalImports: FRAMEWORKS },
          ],
        },
      ],
    },
  },
];
