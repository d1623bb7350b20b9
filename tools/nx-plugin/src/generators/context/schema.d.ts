export interface ContextGeneratorSchema {
  name: string;
  framework?: 'fastify' | 'nest';
  aggregates: string | string[];
  port?: number;
  skipInstall?: boolean;
}
