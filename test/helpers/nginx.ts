// The nginx launcher lives with the cluster bench, which must not import test helpers.
export * from '../../bench/cluster/nginx.js';
export { freePorts } from '../../bench/cluster/ports.js';
