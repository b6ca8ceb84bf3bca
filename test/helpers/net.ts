// The port helpers live with the cluster bench, which must not import test helpers.
export { freePort } from '../../bench/cluster/ports.js';
