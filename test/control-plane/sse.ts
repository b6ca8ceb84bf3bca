// The GraphQL subscription client lives with the cluster benches, which must not import test helpers.
export * from '../../bench/cluster/sse.js';
