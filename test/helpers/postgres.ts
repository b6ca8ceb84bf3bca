// The PostgreSQL launcher lives with the cluster bench, which must not import test helpers.
export * from '../../bench/cluster/postgres.js';
