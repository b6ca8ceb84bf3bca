// The Slurm launcher lives in bench/cluster/ (the executor bench starts it too), as benches must
// not import test helpers.
export * from '../../bench/cluster/slurm.js';
