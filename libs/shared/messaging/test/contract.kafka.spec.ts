import { createKafkaTransport } from '../src';
import { transportContract } from './transport-contract';
import { kafkaBrokers } from './support/infra';

transportContract('kafka', { create: () => createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-contract-test' }) });
