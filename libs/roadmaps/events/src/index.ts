/**
 * @carve/roadmaps-events: the roadmaps-service's public face on the wire. Its events keep the
 * monolith's data shape, so the monolith's reverse sync applies them with the code it has for its
 * own events. Only `source` (roadmaps), the topics and `origin` (roadmaps-service) differ.
 */
export * from './contract';
export * from './events';
